package namespace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// Controller appends the deletions that Decide returns. Its state is its own
// projection; it reads nothing else.
type Controller struct {
	log     *events.Log
	logger  *slog.Logger
	runner  *projections.Runner
	rounds  reconcile.Timer
	trigger chan struct{}
}

// New returns a controller; pass Notify to the runner with
// projections.WithAfterCommit, then Attach the runner.
func New(log *events.Log, logger *slog.Logger) *Controller {
	return &Controller{log: log, logger: logger, trigger: make(chan struct{}, 1)}
}

// Attach sets the runner that folds Projection().
func (c *Controller) Attach(r *projections.Runner) { c.runner = r }

// Instrument times the namespace-controller's rounds in m.
func (c *Controller) Instrument(m *reconcile.Metrics) { c.rounds = m.Timer("namespace-controller") }

// Notify asks for a reconcile soon. It never blocks.
func (c *Controller) Notify(uint64) {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run reconciles after every commit of its projection, and every few seconds, until
// ctx ends.
func (c *Controller) Run(ctx context.Context) {
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
		case <-tick.C:
		}
		if err := c.reconcile(ctx); err != nil && ctx.Err() == nil {
			c.logger.Warn("namespace controller", "err", err)
		}
	}
}

func (c *Controller) reconcile(ctx context.Context) error {
	defer c.rounds.Since(time.Now())
	var actions []Action
	err := c.runner.View(func(rd projections.Reader, _ uint64) error {
		var terminating []string
		states := map[string]nsState{}
		err := rd.Scan([]byte("n\x00"), false, func(k, v []byte) bool {
			var st nsState
			if json.Unmarshal(v, &st) == nil && st.Terminating {
				name := string(k[2:])
				terminating = append(terminating, name)
				states[name] = st
			}
			return true
		})
		if err != nil {
			return err
		}
		for _, ns := range terminating {
			var members []Member
			err := rd.Scan(append([]byte("o\x00"+ns), 0), false, func(k, v []byte) bool {
				parts := bytes.SplitN(k[2:], []byte{0}, 3)
				if len(parts) != 3 {
					return true
				}
				ver, _ := strconv.ParseUint(string(v), 10, 64)
				members = append(members, Member{Ref: events.Ref{Kind: string(parts[1]), Namespace: ns, Name: string(parts[2])}, Version: ver})
				return true
			})
			if err != nil {
				return err
			}
			for i, m := range members {
				if m.Ref.Kind != "Pod" {
					continue
				}
				raw, ok, err := rd.Get(podKey(ns, m.Ref.Name))
				if err != nil {
					return err
				}
				if ok {
					var pm podMember
					if err := json.Unmarshal(raw, &pm); err != nil {
						return err
					}
					members[i].Pod = &pm
				}
			}
			st := states[ns]
			if v, ok, err := rd.Get(lastKey(ns)); err != nil {
				return err
			} else if ok {
				st.Contents, _ = strconv.ParseUint(string(v), 10, 64)
			}
			actions = append(actions, Decide(ns, st, members)...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range actions {
		a.Event.Time = time.Now().UTC()
		var err error
		if a.Guard != "" {
			_, err = c.log.AppendGuardedBy(ctx, a.Event, a.Expected, a.Guard)
		} else {
			_, err = c.log.Append(ctx, a.Event, a.Expected)
		}
		if err != nil {
			if errors.Is(err, events.ErrConflict) {
				continue // newer events: the next round decides again
			}
			return err
		}
		c.logger.Debug("deleted", "object", a.Event.Object.String(), "reason", strings.TrimSpace(a.Event.Reason))
	}
	return nil
}
