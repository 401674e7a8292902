package podgc

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// Controller appends what Decide and DecideTerminated return, through the shared
// reconcile loop: a round decides for the pods touched since the last (and those
// whose appends conflicted), every resync interval for all, and every round
// checks the count of terminated pods. Its state is its own projection.
type Controller struct {
	*reconcile.Loop
	quarantine time.Duration
	threshold  int
}

// Option configures a Controller.
type Option func(*Controller)

// WithResync sets how often a round decides for every pod (default 30s) and how
// often a round runs without a commit to react to (default 2s). A pod whose
// quarantine ends is deleted at the next full round.
func WithResync(full, tick time.Duration) Option {
	return func(c *Controller) { c.SetResync(full, tick) }
}

// WithQuarantine sets how long a pod may be bound to a node that does not exist
// before it is deleted (default DefaultQuarantine).
func WithQuarantine(d time.Duration) Option { return func(c *Controller) { c.quarantine = d } }

// WithTerminatedThreshold sets how many terminated pods are kept (default
// DefaultTerminatedThreshold; 0 means the default, negative keeps them all).
func WithTerminatedThreshold(n int) Option {
	return func(c *Controller) {
		if n != 0 {
			c.threshold = n
		}
	}
}

// New returns a controller; pass Notify to the runner with
// projections.WithAfterCommit, then Attach the runner.
func New(log *events.Log, logger *slog.Logger, opts ...Option) *Controller {
	c := &Controller{quarantine: DefaultQuarantine, threshold: DefaultTerminatedThreshold}
	c.Loop = reconcile.New(reconcile.Config{Name: "pod garbage collector", Log: log, Logger: logger,
		Subjects: Projection().Subjects, AllOwners: []byte("p\x00"), Decide: c.decideRound})
	for _, o := range opts {
		o(c)
	}
	return c
}

// decideRound decides for each touched pod, then for the terminated pods beyond
// the threshold (one read of a counter when there are none).
func (c *Controller) decideRound(rd projections.Reader, owners []string, now time.Time) ([]reconcile.Step, error) {
	var plan []reconcile.Step
	decided := map[string]bool{}
	for _, o := range owners {
		p, err := loadDecidable(rd, o)
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", o, err)
		}
		if p == nil || p.Node == "" {
			continue
		}
		n, err := loadNode(rd, p.Node)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", p.Node, err)
		}
		if a := Decide(*p, n, now, c.quarantine); a != nil {
			decided[o] = true
			plan = append(plan, reconcile.Step{Owner: o, Action: *a})
		}
	}
	count, err := terminatedCount(rd)
	if err != nil || c.threshold <= 0 || int(count) <= c.threshold {
		return plan, err
	}
	oldest, owners, err := loadOldestTerminated(rd, int(count)-c.threshold)
	if err != nil {
		return nil, err
	}
	for i, a := range DecideTerminated(int(count), oldest, c.threshold) {
		if !decided[owners[i]] {
			plan = append(plan, reconcile.Step{Owner: owners[i], Action: a})
		}
	}
	return plan, nil
}

func loadDecidable(rd projections.Reader, o string) (*Pod, error) {
	r, err := loadPod(rd, o)
	if err != nil || r == nil {
		return nil, err
	}
	ns, name, _ := strings.Cut(o, "\x00")
	return &Pod{Namespace: ns, Name: name, UID: r.UID, Version: r.Version, Node: r.Node, Phase: r.Phase,
		Deleting: r.Deleting, Bound: r.Bound, EventID: r.EventID, Correlation: r.Correlation}, nil
}

func loadNode(rd projections.Reader, name string) (Node, error) {
	n := Node{Name: name}
	if raw, ok, err := rd.Get(nodeKey(name)); err != nil {
		return n, err
	} else if ok {
		var rec nodeRec
		if err := json.Unmarshal(raw, &rec); err != nil {
			return n, err
		}
		n.Registered, n.Ready, n.OutOfService = true, rec.Ready, rec.OutOfService
		return n, nil
	}
	if raw, ok, err := rd.Get(goneKey(name)); err != nil {
		return n, err
	} else if ok {
		var g goneRec
		if err := json.Unmarshal(raw, &g); err != nil {
			return n, err
		}
		n.Gone, n.GoneEventID, n.GoneCorr = g.Time, g.EventID, g.Correlation
	}
	return n, nil
}

// loadOldestTerminated returns up to limit terminated pods, oldest first, and
// their owners.
func loadOldestTerminated(rd projections.Reader, limit int) ([]Pod, []string, error) {
	var owners []string
	prefix := []byte("f\x00")
	if err := rd.Scan(prefix, false, func(k, _ []byte) bool {
		if len(k) > len(prefix)+8 {
			owners = append(owners, string(k[len(prefix)+8:]))
		}
		return len(owners) < limit
	}); err != nil {
		return nil, nil, err
	}
	pods := make([]Pod, 0, len(owners))
	kept := owners[:0]
	for _, o := range owners {
		p, err := loadDecidable(rd, o)
		if err != nil {
			return nil, nil, err
		}
		if p != nil {
			pods, kept = append(pods, *p), append(kept, o)
		}
	}
	return pods, kept, nil
}
