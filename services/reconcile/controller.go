package reconcile

import (
	"log/slog"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
)

// Option configures a controller that runs on a Loop.
type Option func(*Loop)

// WithResync sets how often a round decides for every owner and how often a
// round runs without a commit to react to.
func WithResync(full, tick time.Duration) Option {
	return func(l *Loop) { l.SetResync(full, tick) }
}

// Decision is a controller without its loop: its projection, what a round
// decides for the owners given, and the key prefix of every owner in the
// projection. NewOwnerLoop runs it on NATS; reconciletest runs it as a script.
type Decision struct {
	Name       string // for logs
	Projection projections.Projection
	Decide     DecideFunc
	AllOwners  []byte
}

// NewOwnerLoop returns the loop that runs d: a round decides for the owners
// touched since the last, plus those whose appends conflicted; every resync
// interval, for all. Its state is d's projection; it reads nothing else. Pass
// Notify to the projection's runner with projections.WithAfterCommit, then
// Attach the runner.
func NewOwnerLoop(log *events.Log, logger *slog.Logger, d Decision, opts ...Option) *Loop {
	l := New(Config{Name: d.Name, Log: log, Logger: logger, Subjects: d.Projection.Subjects, AllOwners: d.AllOwners, Decide: d.Decide})
	for _, o := range opts {
		o(l)
	}
	return l
}

// Everything is the one owner of a controller that decides for all it holds
// at once (NewWhole): a volume binding joins a claim and a volume, an
// Ingress's address reads every node.
const Everything = "everything"

// WholeDecision is a controller whose every round decides for everything its
// projection holds: decide reads the projection and returns the actions.
func WholeDecision(name string, p projections.Projection, decide func(rd projections.Reader, now time.Time) ([]Action, error)) Decision {
	return Decision{Name: name, Projection: p, AllOwners: []byte{}, Decide: func(rd projections.Reader, owners []string, now time.Time) ([]Step, error) {
		if len(owners) == 0 {
			return nil, nil
		}
		actions, err := decide(rd, now)
		if err != nil {
			return nil, err
		}
		plan := make([]Step, 0, len(actions))
		for _, a := range actions {
			plan = append(plan, Step{Owner: Everything, Action: a})
		}
		return plan, nil
	}}
}

// NewWhole returns the loop that runs d (a WholeDecision) after every commit
// of its projection and every tick.
func NewWhole(log *events.Log, logger *slog.Logger, d Decision, tick time.Duration) *Loop {
	return New(Config{Name: d.Name, Log: log, Logger: logger, Subjects: d.Projection.Subjects, Mode: Full,
		Owners: func(projections.Reader) ([]string, error) { return []string{Everything}, nil },
		Decide: d.Decide, Tick: tick})
}
