package gc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
)

// Controller appends what Decide returns for the gone owners its projection saw
// change. Its state is its own projection; it reads nothing else.
//
// Each round reads the gone owners touched since the round before, plus those
// whose appends conflicted (they are decided again from newer state); every
// resync interval it reads every gone owner that objects still name.
type Controller struct {
	log     *events.Log
	logger  *slog.Logger
	runner  *projections.Runner
	trigger chan struct{}
	tick    time.Duration
	resync  time.Duration

	// Owned by Run.
	cursor   uint64          // the touch log is read up to here
	lastFull time.Time       // the last round that read every gone owner
	retry    map[string]bool // owners whose appends conflicted
}

// Option configures a Controller.
type Option func(*Controller)

// WithResync sets how often a round reads every gone owner (default 30s) and how
// often a round runs without a commit to react to (default 2s).
func WithResync(full, tick time.Duration) Option {
	return func(c *Controller) { c.resync, c.tick = full, tick }
}

// New returns a controller; pass Notify to the runner with
// projections.WithAfterCommit, then Attach the runner.
func New(log *events.Log, logger *slog.Logger, opts ...Option) *Controller {
	c := &Controller{log: log, logger: logger, trigger: make(chan struct{}, 1),
		tick: 2 * time.Second, resync: 30 * time.Second, retry: map[string]bool{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Attach sets the runner that folds Projection().
func (c *Controller) Attach(r *projections.Runner) { c.runner = r }

// Notify asks for a reconcile soon. It never blocks.
func (c *Controller) Notify(uint64) {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run reconciles after every commit of its projection, and every tick, until ctx
// ends. The first round waits until the projection has folded what the log held
// when Run started, so that a rebuilt projection decides from the log's present,
// not from a replay of its past.
func (c *Controller) Run(ctx context.Context) {
	if err := c.waitCaughtUp(ctx); err != nil && ctx.Err() == nil {
		c.logger.Warn("deciding before the projection caught up", "err", err)
	}
	tick := time.NewTicker(c.tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
		case <-tick.C:
		}
		if err := c.reconcile(ctx); err != nil && ctx.Err() == nil {
			c.logger.Warn("garbage collector", "err", err)
		}
	}
}

// waitCaughtUp blocks until the projection has folded the newest event its
// subjects held when called.
func (c *Controller) waitCaughtUp(ctx context.Context) error {
	js := c.log.JetStream()
	var target uint64
	for _, subject := range Projection().Subjects {
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
	return c.runner.WaitFor(ctx, target)
}

type step struct {
	owner  string
	action Action
}

func (c *Controller) reconcile(ctx context.Context) error {
	now := time.Now()
	full := c.lastFull.IsZero() || now.Sub(c.lastFull) >= c.resync
	var plan []step
	var checkpoint uint64
	err := c.runner.View(func(rd projections.Reader, cp uint64) error {
		checkpoint = cp
		owners, err := c.dirty(rd, full)
		if err != nil {
			return err
		}
		plan, err = decideRound(rd, owners)
		return err
	})
	if err != nil {
		return err
	}
	c.retry = map[string]bool{}
	c.cursor = checkpoint
	if full {
		c.lastFull = now
	}
	return c.appendAll(ctx, plan)
}

// decideRound decides for each owner in turn. An object that names several gone
// owners is deleted once, for the first of them.
func decideRound(rd projections.Reader, owners []string) ([]step, error) {
	var plan []step
	decided := map[events.Ref]bool{}
	for _, owner := range owners {
		cause, dependents, ok, err := loadOwner(rd, owner)
		if err != nil {
			return nil, fmt.Errorf("owner %s: %w", owner, err)
		}
		if !ok {
			continue
		}
		for _, a := range Decide(cause, dependents) {
			if !decided[a.Event.Object] {
				decided[a.Event.Object] = true
				plan = append(plan, step{owner, a})
			}
		}
	}
	return plan, nil
}

// dirty returns the owners to decide for this round.
func (c *Controller) dirty(rd projections.Reader, full bool) ([]string, error) {
	seen := map[string]bool{}
	var owners []string
	add := func(o string) {
		if !seen[o] {
			seen[o] = true
			owners = append(owners, o)
		}
	}
	if full {
		err := rd.Scan([]byte("g\x00"), false, func(k, _ []byte) bool {
			add(string(k[2:]))
			return true
		})
		return owners, err
	}
	touched, err := touchedSince(rd, c.cursor)
	for _, o := range touched {
		add(o)
	}
	for o := range c.retry {
		add(o)
	}
	return owners, err
}

// appendAll sends the plan in one pipeline. Owners whose appends conflicted, or
// that a failure left undecided, are decided again next round.
func (c *Controller) appendAll(ctx context.Context, plan []step) error {
	if len(plan) == 0 {
		return nil
	}
	p := c.log.Pipeline()
	var sendErr error
	for _, pl := range plan {
		pl.action.Event.Time = time.Now().UTC()
		if sendErr = p.Append(pl.action.Event, pl.action.Expected); sendErr != nil {
			break
		}
	}
	results, err := p.Wait(ctx)
	err = errors.Join(sendErr, err)
	for i, r := range results {
		switch {
		case r.Err == nil:
			c.logger.Debug("appended", "type", r.Event.Type, "object", r.Event.Object.String(), "reason", r.Event.Reason)
		case errors.Is(r.Err, events.ErrConflict):
			c.retry[plan[i].owner] = true
		default:
			c.retry[plan[i].owner] = true
			err = errors.Join(err, r.Err)
		}
	}
	for _, pl := range plan[len(results):] {
		c.retry[pl.owner] = true
	}
	return err
}

// loadOwner reads a gone owner's cause and dependents; ok is false when no object
// names it any more.
func loadOwner(rd projections.Reader, owner string) (cause events.Event, dependents []Dependent, ok bool, err error) {
	raw, ok, err := rd.Get(goneKey(owner))
	if err != nil || !ok {
		return cause, nil, false, err
	}
	if err := json.Unmarshal(raw, &cause); err != nil {
		return cause, nil, false, err
	}
	prefix := dependentsPrefix(owner)
	var refs []events.Ref
	if err := rd.Scan(prefix, false, func(k, _ []byte) bool {
		parts := strings.SplitN(string(k[len(prefix):]), "\x00", 3)
		if len(parts) == 3 {
			refs = append(refs, events.Ref{Kind: parts[0], Namespace: parts[1], Name: parts[2]})
		}
		return true
	}); err != nil {
		return cause, nil, false, err
	}
	for _, ref := range refs {
		st, err := loadState(rd, objectKey(ref))
		if err != nil {
			return cause, nil, false, err
		}
		if st == nil {
			continue
		}
		d := Dependent{Ref: ref, UID: st.UID, Version: st.Version, Deleting: st.Deleting, Grace: st.Grace}
		for _, o := range st.Owners {
			gone, err := isGone(rd, o)
			if err != nil {
				return cause, nil, false, err
			}
			if !gone {
				d.LiveOwners++
			}
		}
		dependents = append(dependents, d)
	}
	return cause, dependents, true, nil
}
