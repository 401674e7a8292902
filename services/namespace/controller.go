package namespace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// Controller appends the deletions that Decide returns, through the shared
// reconcile loop: after every commit of its projection, and every few seconds, a
// round decides for every terminating namespace. Its state is its own
// projection; it reads nothing else.
type Controller struct{ *reconcile.Loop }

// Option configures a Controller.
type Option func(*Controller)

// WithTick sets how often a round runs without a commit to react to (default 3s).
func WithTick(d time.Duration) Option { return func(c *Controller) { c.SetResync(d, d) } }

// New returns a controller; pass its Hooks to the runner, then Attach the runner.
func New(log *events.Log, logger *slog.Logger, opts ...Option) *Controller {
	c := &Controller{reconcile.New(reconcile.Config{Name: "namespace controller", Log: log, Logger: logger,
		Subjects: Projection().Subjects, Mode: reconcile.Full, Owners: terminating, Decide: decideRound,
		Tick: 3 * time.Second})}
	for _, o := range opts {
		o(c)
	}
	return c
}

// terminating lists the namespaces being deleted.
func terminating(rd projections.Reader) ([]string, error) {
	var out []string
	err := rd.Scan([]byte("n\x00"), false, func(k, v []byte) bool {
		var st nsState
		if json.Unmarshal(v, &st) == nil && st.Terminating {
			out = append(out, string(k[2:]))
		}
		return true
	})
	return out, err
}

func decideRound(rd projections.Reader, owners []string, _ time.Time) ([]reconcile.Step, error) {
	var plan []reconcile.Step
	for _, ns := range owners {
		st, members, ok, err := load(rd, ns)
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns, err)
		}
		if !ok {
			continue
		}
		for _, a := range Decide(ns, st, members) {
			plan = append(plan, reconcile.Step{Owner: ns, Action: a})
		}
	}
	return plan, nil
}

// load reads a namespace's state and members; ok is false when it is unknown.
func load(rd projections.Reader, ns string) (st nsState, members []Member, ok bool, err error) {
	raw, ok, err := rd.Get(nsKey(ns))
	if err != nil || !ok {
		return st, nil, false, err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, nil, false, err
	}
	err = rd.Scan(append([]byte("o\x00"+ns), 0), false, func(k, v []byte) bool {
		parts := bytes.SplitN(k[2:], []byte{0}, 3)
		if len(parts) != 3 {
			return true
		}
		ver, _ := strconv.ParseUint(string(v), 10, 64)
		members = append(members, Member{Ref: events.Ref{Kind: string(parts[1]), Namespace: ns, Name: string(parts[2])}, Version: ver})
		return true
	})
	if err != nil {
		return st, nil, false, err
	}
	for i, m := range members {
		if m.Ref.Kind != "Pod" {
			continue
		}
		raw, ok, err := rd.Get(podKey(ns, m.Ref.Name))
		if err != nil {
			return st, nil, false, err
		}
		if ok {
			var pm podMember
			if err := json.Unmarshal(raw, &pm); err != nil {
				return st, nil, false, err
			}
			members[i].Pod = &pm
		}
	}
	if v, ok, err := rd.Get(lastKey(ns)); err != nil {
		return st, nil, false, err
	} else if ok {
		st.Contents, _ = strconv.ParseUint(string(v), 10, 64)
	}
	return st, members, true, nil
}
