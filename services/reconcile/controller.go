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

// NewOwnerLoop returns the loop that runs a controller's decision: p is its
// projection, decide its round and allOwners the key prefix of every owner in
// p (what a controller's Decision returns). name is for logs.
func NewOwnerLoop(name string, log *events.Log, logger *slog.Logger, p projections.Projection, decide DecideFunc, allOwners []byte, opts ...Option) *Loop {
	l := New(Config{Name: name, Log: log, Logger: logger, Subjects: p.Subjects, AllOwners: allOwners, Decide: decide})
	for _, o := range opts {
		o(l)
	}
	return l
}
