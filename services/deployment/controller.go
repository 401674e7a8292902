package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	appsv1 "k8s.io/api/apps/v1"
)

// Controller appends what Decide returns for the Deployments its projection saw
// change. Its state is its own projection; it reads nothing else.
//
// Each round reads the Deployments touched since the round before, plus those
// whose appends conflicted (they are decided again from newer state); every
// resync interval it reads them all.
type Controller struct {
	log     *events.Log
	logger  *slog.Logger
	runner  *projections.Runner
	trigger chan struct{}
	tick    time.Duration
	resync  time.Duration

	// Owned by Run.
	cursor   uint64          // the touch log is read up to here
	lastFull time.Time       // the last round that read every Deployment
	retry    map[string]bool // owners whose appends conflicted
}

// Option configures a Controller.
type Option func(*Controller)

// WithResync sets how often a round reads every Deployment (default 30s) and how
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
			c.logger.Warn("deployment controller", "err", err)
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
		for _, owner := range owners {
			in, ok, err := loadInput(rd, owner)
			if err != nil {
				return fmt.Errorf("deployment %s: %w", strings.ReplaceAll(owner, "\x00", "/"), err)
			}
			if !ok {
				continue
			}
			var nameErr error
			in.Names = func(name string) (uint64, bool) {
				v, live, err := nameState(rd, in.Deployment.Namespace, name)
				nameErr = errors.Join(nameErr, err)
				return v, live
			}
			actions := Decide(in)
			if nameErr != nil {
				return nameErr
			}
			for _, a := range actions {
				plan = append(plan, step{owner, a})
			}
		}
		return nil
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
		err := rd.Scan([]byte("d\x00"), false, func(k, _ []byte) bool {
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

// loadInput reads what Decide needs of one Deployment but Names; ok is false when
// it no longer exists.
func loadInput(rd projections.Reader, owner string) (in Input, ok bool, err error) {
	st, err := load(rd, deployKind, deploymentKey(owner))
	if err != nil || st == nil {
		return in, false, err
	}
	d := st.Object.(*appsv1.Deployment)
	in.Deployment, in.Version = d, st.Version
	prefix := ownedPrefix(string(d.UID))
	var keys []string
	if err := rd.Scan(prefix, false, func(k, _ []byte) bool {
		keys = append(keys, string(k[len(prefix):]))
		return true
	}); err != nil {
		return in, false, err
	}
	for _, k := range keys {
		ns, name, _ := strings.Cut(k, "\x00")
		rs, err := load(rd, rsKind, rsKey(ns, name))
		if err != nil {
			return in, false, err
		}
		if rs != nil && ns == d.Namespace {
			in.ReplicaSets = append(in.ReplicaSets, ReplicaSet{ReplicaSet: rs.Object.(*appsv1.ReplicaSet), Version: rs.Version})
		}
	}
	if in.Cause, in.SpecCause, err = causesOf(rd, owner); err != nil {
		return in, false, err
	}
	return in, true, nil
}

func nameState(rd projections.Reader, ns, name string) (uint64, bool, error) {
	if _, live, err := rd.Get(rsKey(ns, name)); err != nil || live {
		return 0, live, err
	}
	raw, ok, err := rd.Get(tombstoneKey(ns, name))
	if err != nil || !ok {
		return 0, false, err
	}
	v, err := strconv.ParseUint(string(raw), 10, 64)
	return v, false, err
}
