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
