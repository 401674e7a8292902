package dispatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

// Controller appends what Decide returns, through the shared reconcile loop: a
// round decides for the pods each commit touched (and those whose appends
// conflicted, once the projection has folded what refused them), and every
// resync interval for every pod.
type Controller struct{ *reconcile.Loop }

// Option configures a Controller.
type Option func(*Controller)

// WithResync sets how often a round decides for every pod (default 30s) and how
// often a round runs without a commit to react to (default 30s).
func WithResync(full, tick time.Duration) Option {
	return func(c *Controller) { c.SetResync(full, tick) }
}

// New returns a dispatcher; pass its Hooks to the runner, then Attach the runner.
func New(log *events.Log, logger *slog.Logger, opts ...Option) *Controller {
	c := &Controller{reconcile.New(reconcile.Config{Name: "dispatcher", Log: log, Logger: logger,
		Subjects: Projection().Subjects, Mode: reconcile.Marked, Owners: allPods, OwnerOf: podOwner,
		Decide: decideRound, Refold: true, Tick: 30 * time.Second, Resync: 30 * time.Second})}
	for _, o := range opts {
		o(c)
	}
	return c
}

// podOwner names the pod a touched ref is about: <namespace>\x00<name>.
func podOwner(r events.Ref) string { return r.Namespace + "\x00" + r.Name }

// allPods lists every pod the projection knows, or holds revocations for.
func allPods(rd projections.Reader) ([]string, error) {
	var owners []string
	for _, prefix := range []string{"p\x00", "r\x00"} {
		err := rd.Scan([]byte(prefix), false, func(k, _ []byte) bool {
			if parts := strings.SplitN(string(k[2:]), "\x00", 3); len(parts) >= 2 {
				owners = append(owners, parts[0]+"\x00"+parts[1])
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return owners, nil
}

func decideRound(rd projections.Reader, owners []string, _ time.Time) ([]reconcile.Step, error) {
	var plan []reconcile.Step
	for _, o := range owners {
		ns, name, _ := strings.Cut(o, "\x00")
		as, err := readAndDecide(rd, ns, name)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			plan = append(plan, reconcile.Step{Owner: o, Action: a})
		}
	}
	return plan, nil
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
	st, rec, err := reconcile.ReadRecord(rd, podKind, key("p", ns, name))
	if err != nil || st == nil {
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
