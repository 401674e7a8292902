package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

// Controller appends what Decide returns for the pods each commit touched, and
// resyncs every pod now and then.
type Controller struct {
	log    *events.Log
	logger *slog.Logger
	runner *projections.Runner
	rounds reconcile.Timer

	mu      sync.Mutex
	dirty   map[[2]string]bool
	trigger chan struct{}
}

// New returns a dispatcher; pass Touched to the runner with projections.WithTouched,
// then Attach the runner.
func New(log *events.Log, logger *slog.Logger) *Controller {
	return &Controller{log: log, logger: logger, dirty: map[[2]string]bool{}, trigger: make(chan struct{}, 1)}
}

// Attach sets the runner folding Projection().
func (c *Controller) Attach(r *projections.Runner) { c.runner = r }

// Instrument times the dispatcher's rounds in m.
func (c *Controller) Instrument(m *reconcile.Metrics) { c.rounds = m.Timer("dispatcher") }

// Touched marks pods to decide again. It never blocks.
func (c *Controller) Touched(refs []events.Ref, _ uint64) {
	c.mu.Lock()
	for _, r := range refs {
		c.dirty[[2]string{r.Namespace, r.Name}] = true
	}
	c.mu.Unlock()
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run decides after every commit, and for every pod each resync period, until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	resync := time.NewTicker(30 * time.Second)
	defer resync.Stop()
	c.resync()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
		case <-resync.C:
			c.resync()
		}
		if err := c.reconcile(ctx); err != nil && ctx.Err() == nil {
			c.logger.Warn("dispatcher", "err", err)
		}
	}
}

func (c *Controller) resync() {
	var refs []events.Ref
	_ = c.runner.View(func(rd projections.Reader, _ uint64) error {
		for _, prefix := range []string{"p\x00", "r\x00"} {
			err := rd.Scan([]byte(prefix), false, func(k, _ []byte) bool {
				if parts := strings.SplitN(string(k[2:]), "\x00", 3); len(parts) >= 2 {
					refs = append(refs, events.Ref{Kind: "Pod", Namespace: parts[0], Name: parts[1]})
				}
				return true
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	c.Touched(refs, 0)
}

func (c *Controller) reconcile(ctx context.Context) error {
	defer c.rounds.Since(time.Now())
	c.mu.Lock()
	dirty := c.dirty
	c.dirty = map[[2]string]bool{}
	c.mu.Unlock()
	var actions []Action
	err := c.runner.View(func(rd projections.Reader, _ uint64) error {
		for nn := range dirty {
			as, err := readAndDecide(rd, nn[0], nn[1])
			if err != nil {
				return err
			}
			actions = append(actions, as...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Pipelined: thousands of pods bound at once are forwarded without waiting for
	// each acknowledgement.
	p := c.log.Pipeline()
	for _, a := range actions {
		a.Event.Time = time.Now().UTC()
		if err := p.Append(a.Event, a.Expected); err != nil {
			c.redo(actions)
			return err
		}
	}
	res, err := p.Wait(ctx)
	if err != nil {
		c.redo(actions)
		return err
	}
	var conflicted []events.Ref
	for _, r := range res {
		switch {
		case errors.Is(r.Err, events.ErrConflict):
			conflicted = append(conflicted, r.Event.Object)
		case r.Err != nil:
			err = errors.Join(err, r.Err)
			conflicted = append(conflicted, r.Event.Object)
		}
	}
	if len(conflicted) > 0 {
		c.refold(ctx, conflicted)
	}
	return err
}

// redo marks the pods of actions not known to be appended to be decided again.
func (c *Controller) redo(actions []Action) {
	refs := make([]events.Ref, 0, len(actions))
	for _, a := range actions {
		refs = append(refs, a.Event.Object)
	}
	c.Touched(refs, 0)
}

// refold makes the pods whose appends were refused be decided again from fresh
// state: it learns the newest version of each refused subject from the log, waits
// (a little) until the projection has folded it, and marks the pods dirty. A
// conflict is never dropped: when the projection is slow, the next round decides
// from what it has and conflicts again.
func (c *Controller) refold(ctx context.Context, refs []events.Ref) {
	var newest uint64
	for _, ref := range refs {
		if v, err := c.log.SubjectVersion(ctx, ref); err == nil {
			newest = max(newest, v)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.runner.WaitFor(wctx, newest); err != nil && ctx.Err() == nil {
		c.logger.Warn("dispatcher: deciding a conflicted pod before its newer events are folded", "err", err)
	}
	c.Touched(refs, 0)
}

// readAndDecide decides for the pods of ns/name from rd.
func readAndDecide(rd projections.Reader, ns, name string) ([]Action, error) {
	p, err := readPod(rd, ns, name)
	if err != nil {
		return nil, err
	}
	var revocations []revocation
	slots := map[string]uint64{}
	var bad error
	err = rd.Scan(revocationPrefix(ns, name), false, func(_, v []byte) bool {
		var r revocation
		if bad = json.Unmarshal(v, &r); bad != nil {
			return false
		}
		revocations = append(revocations, r)
		return true
	})
	if err = errors.Join(err, bad); err != nil {
		return nil, err
	}
	for _, r := range revocations {
		raw, ok, err := rd.Get(slotKey(r.Node, ns, name))
		if err != nil {
			return nil, err
		}
		if ok {
			if slots[r.Node], err = strconv.ParseUint(string(raw), 10, 64); err != nil {
				return nil, fmt.Errorf("slot of pod %s/%s on node %s: %w", ns, name, r.Node, err)
			}
		}
	}
	return decideName(ns, name, p, revocations, slots)
}

func readPod(rd projections.Reader, ns, name string) (*Pod, error) {
	raw, ok, err := rd.Get(key("p", ns, name))
	if err != nil || !ok {
		return nil, err
	}
	var rec podRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, err
	}
	k, _ := object.ByKind("Pod")
	st, err := object.DecodeStored(k, rec.Stored)
	if err != nil {
		return nil, err
	}
	p := &Pod{Pod: st.Object.(*corev1.Pod), Version: st.Version, EventID: rec.EventID, Correlation: rec.Correlation}
	if raw, ok, err := rd.Get(key("f", ns, name)); err != nil {
		return nil, err
	} else if ok {
		var f facet
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, err
		}
		p.Facet = &f
	}
	if node := p.Pod.Spec.NodeName; node != "" {
		if raw, ok, err := rd.Get(slotKey(node, ns, name)); err != nil {
			return nil, err
		} else if ok {
			if p.Slot, err = strconv.ParseUint(string(raw), 10, 64); err != nil {
				return nil, fmt.Errorf("slot of pod %s/%s on node %s: %w", ns, name, node, err)
			}
		}
	}
	return p, nil
}
