package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
)

// Action is one guarded append a controller decides on.
type Action struct {
	Event    *events.Event
	Expected uint64
}

// Step is an action and the owner whose decision it is: a conflict makes that
// owner be decided again.
type Step struct {
	Owner  string
	Action Action
}

// DecideFunc returns the steps for owners, reading only rd. It must be pure.
type DecideFunc func(rd projections.Reader, owners []string, now time.Time) ([]Step, error)

// Loop runs a controller: after each commit of its projection (Notify) and every
// tick, it decides for the owners touched since the last round and appends the
// steps; every resync interval it decides for all owners.
type Loop struct {
	name      string
	log       *events.Log
	logger    *slog.Logger
	runner    *projections.Runner
	subjects  []string
	allOwners []byte
	decide    DecideFunc
	trigger   chan struct{}
	tick      time.Duration
	resync    time.Duration
	rounds    Timer

	// Owned by Run.
	cursor   uint64
	lastFull time.Time
	retry    map[string]bool
}

// Config describes a controller to New.
type Config struct {
	Name   string // for logs: "replicaset controller"
	Log    *events.Log
	Logger *slog.Logger
	// Subjects are the projection's subjects: the first round waits until the
	// projection has folded their newest events.
	Subjects []string
	// AllOwners is the key prefix whose keys (after the prefix) are every owner,
	// scanned on a full round.
	AllOwners []byte
	Decide    DecideFunc
	Tick      time.Duration // default 2s
	Resync    time.Duration // default 30s
}

// New returns a loop; pass Notify to the runner with projections.WithAfterCommit,
// then Attach the runner.
func New(cfg Config) *Loop {
	l := &Loop{name: cfg.Name, log: cfg.Log, logger: cfg.Logger, subjects: cfg.Subjects, allOwners: cfg.AllOwners,
		decide: cfg.Decide, trigger: make(chan struct{}, 1), tick: cfg.Tick, resync: cfg.Resync, retry: map[string]bool{}}
	if l.tick == 0 {
		l.tick = 2 * time.Second
	}
	if l.resync == 0 {
		l.resync = 30 * time.Second
	}
	return l
}

// SetResync changes the full-resync and tick intervals (before Run).
func (l *Loop) SetResync(full, tick time.Duration) { l.resync, l.tick = full, tick }

// Attach sets the runner that folds the controller's projection.
func (l *Loop) Attach(r *projections.Runner) { l.runner = r }

// Notify asks for a round soon. It never blocks.
func (l *Loop) Notify(uint64) {
	select {
	case l.trigger <- struct{}{}:
	default:
	}
}

// Run decides after every commit and every tick until ctx ends. The first round
// waits until the projection has folded what the log held when Run started, so a
// rebuilt projection decides from the log's present, not a replay of its past.
func (l *Loop) Run(ctx context.Context) {
	if err := l.waitCaughtUp(ctx); err != nil && ctx.Err() == nil {
		l.logger.Warn("deciding before the projection caught up", "err", err)
	}
	tick := time.NewTicker(l.tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.trigger:
		case <-tick.C:
		}
		if err := l.round(ctx); err != nil && ctx.Err() == nil {
			l.logger.Warn(l.name, "err", err)
		}
	}
}

func (l *Loop) waitCaughtUp(ctx context.Context) error {
	js := l.log.JetStream()
	var target uint64
	for _, subject := range l.subjects {
		name, err := js.StreamNameBySubject(ctx, subject)
		if err != nil {
			return fmt.Errorf("stream of %s: %w", subject, err)
		}
		stream, err := js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		last, err := stream.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("newest event of %s: %w", subject, err)
		}
		target = max(target, last.Sequence)
	}
	return l.runner.WaitFor(ctx, target)
}

func (l *Loop) round(ctx context.Context) error {
	now := time.Now()
	defer l.rounds.Since(now)
	full := l.lastFull.IsZero() || now.Sub(l.lastFull) >= l.resync
	var plan []Step
	var checkpoint uint64
	err := l.runner.View(func(rd projections.Reader, cp uint64) error {
		checkpoint = cp
		owners, err := l.dirty(rd, full)
		if err != nil {
			return err
		}
		plan, err = l.decide(rd, owners, now)
		return err
	})
	if err != nil {
		return err
	}
	l.retry = map[string]bool{}
	l.cursor = checkpoint
	if full {
		l.lastFull = now
	}
	return l.appendAll(ctx, plan)
}

// dirty returns the owners to decide for this round.
func (l *Loop) dirty(rd projections.Reader, full bool) ([]string, error) {
	seen := map[string]bool{}
	var owners []string
	add := func(o string) {
		if !seen[o] {
			seen[o] = true
			owners = append(owners, o)
		}
	}
	if full {
		err := rd.Scan(l.allOwners, false, func(k, _ []byte) bool {
			add(string(k[len(l.allOwners):]))
			return true
		})
		return owners, err
	}
	touched, err := TouchedSince(rd, l.cursor)
	for _, o := range touched {
		add(o)
	}
	for o := range l.retry {
		add(o)
	}
	return owners, err
}

// appendAll sends the plan in one pipeline. Owners whose appends conflicted, or
// that a failure left undecided, are decided again next round.
func (l *Loop) appendAll(ctx context.Context, plan []Step) error {
	if len(plan) == 0 {
		return nil
	}
	p := l.log.Pipeline()
	var sendErr error
	for _, st := range plan {
		st.Action.Event.Time = time.Now().UTC()
		if sendErr = p.Append(st.Action.Event, st.Action.Expected); sendErr != nil {
			break
		}
	}
	results, err := p.Wait(ctx)
	err = errors.Join(sendErr, err)
	for i, r := range results {
		switch {
		case r.Err == nil:
			l.logger.Debug("appended", "type", r.Event.Type, "object", r.Event.Object.String(), "reason", r.Event.Reason)
		case errors.Is(r.Err, events.ErrConflict):
			l.retry[plan[i].Owner] = true
		default:
			l.retry[plan[i].Owner] = true
			err = errors.Join(err, r.Err)
		}
	}
	for _, st := range plan[len(results):] {
		l.retry[st.Owner] = true
	}
	return err
}
