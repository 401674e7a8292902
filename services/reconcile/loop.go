package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
)

// Action is one guarded append a controller decides on: Expected is the version
// of the event's own subject, or, when Guard is set, of the newest event matching
// Guard (a subject or a wildcard filter: every object of a namespace). An Action
// without Event is a wake-up (WakeAt): decide for the owner again at Wake.
type Action struct {
	Event    *events.Event
	Expected uint64
	Guard    string
	Wake     time.Time
}

// WakeAt is the Action that asks for the owner to be decided again at t, when
// the decision depends on the clock and nothing else would touch the owner then
// (a pod available once ready for minReadySeconds, a progress deadline).
func WakeAt(t time.Time) Action { return Action{Wake: t} }

// Step is what a controller decided for an owner: an Action, Do, an idempotent
// effect outside the log (the secret shredder purges a key), or Wake, a time to
// decide for the owner again. A conflict or a failure makes that owner be
// decided again. An owner's wake-up is the one its newest decision asked for:
// deciding for it again drops the one before.
type Step struct {
	Owner  string
	Action Action
	Do     func(context.Context) error
	Wake   time.Time
}

// minWake is the least delay before a wake-up round: a decision asking for a
// time already past gets the next round, not a busy loop.
const minWake = 50 * time.Millisecond

// DecideFunc returns the steps for owners, reading only rd. It must be pure.
type DecideFunc func(rd projections.Reader, owners []string, now time.Time) ([]Step, error)

// Mode is which owners a round decides for, and what starts a round.
type Mode int

const (
	// TouchLog: a round runs after each commit and each tick and decides for the
	// owners the projection's touch log (Touch) holds since the round before;
	// every resync interval, for all owners. Hook: Notify.
	TouchLog Mode = iota
	// Marked: as TouchLog, but the owners are those of the refs each commit
	// touched (Config.OwnerOf). Hook: Touched.
	Marked
	// Full: a round runs after each commit and each tick and decides for all
	// owners. Hook: Notify.
	Full
	// Ticked: a round runs each tick only, and decides for all owners. No hook.
	Ticked
)

// Loop runs a controller: after each commit of its projection and every tick, it
// decides for the owners its Mode names and appends the steps, in one pipeline.
// Owners whose appends conflicted or failed are decided again the next round.
type Loop struct {
	name      string
	log       *events.Log
	logger    *slog.Logger
	runner    *projections.Runner
	subjects  []string
	mode      Mode
	allOwners []byte
	owners    func(projections.Reader) ([]string, error)
	ownerOf   func(events.Ref) string
	decide    DecideFunc
	ready     func(context.Context) bool
	refold    bool
	trigger   chan struct{}
	tick      time.Duration
	resync    time.Duration
	rounds    Timer

	mu     sync.Mutex
	marked map[string]bool // Marked: owners touched since the last round

	// Owned by Run.
	cursor   uint64
	lastFull time.Time
	retry    map[string]bool
	wakes    map[string]time.Time // owner -> when its newest decision asked to be decided again
}

// Config describes a controller to New.
type Config struct {
	Name   string // for logs and metrics: "replicaset controller"
	Log    *events.Log
	Logger *slog.Logger
	// Subjects are the projection's subjects: the first round waits until the
	// projection has folded their newest events.
	Subjects []string
	Mode     Mode
	// AllOwners is the key prefix whose keys (after the prefix) are every owner,
	// scanned on a full round; Owners, when set, lists them instead.
	AllOwners []byte
	Owners    func(projections.Reader) ([]string, error)
	// OwnerOf names the owner of a touched ref (Marked); "" touches none.
	OwnerOf func(events.Ref) string
	Decide  DecideFunc
	// Ready, when set, is asked before each round; a round runs only when it
	// says yes (node lifecycle judges no node while it cannot see heartbeats).
	Ready func(context.Context) bool
	// Refold: before deciding a conflicted owner again, wait (up to 5s) until
	// the projection has folded the newest event of the refused subject, so the
	// next decision is made from the state that refused it.
	Refold bool
	Tick   time.Duration // default 2s
	Resync time.Duration // default 30s
}

// New returns a loop; pass its Hooks to the runner, then Attach the runner.
func New(cfg Config) *Loop {
	l := &Loop{name: cfg.Name, log: cfg.Log, logger: cfg.Logger, subjects: cfg.Subjects, mode: cfg.Mode,
		allOwners: cfg.AllOwners, owners: cfg.Owners, ownerOf: cfg.OwnerOf, decide: cfg.Decide, ready: cfg.Ready,
		refold: cfg.Refold, trigger: make(chan struct{}, 1), tick: cfg.Tick, resync: cfg.Resync,
		marked: map[string]bool{}, retry: map[string]bool{}, wakes: map[string]time.Time{}}
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

// Hooks are the runner options that start rounds after commits, for the Mode.
func (l *Loop) Hooks() []projections.Option {
	switch l.mode {
	case Marked:
		return []projections.Option{projections.WithTouched(l.Touched)}
	case Ticked:
		return nil
	default:
		return []projections.Option{projections.WithAfterCommit(l.Notify)}
	}
}

// Attach sets the runner that folds the controller's projection.
func (l *Loop) Attach(r *projections.Runner) { l.runner = r }

// Notify asks for a round soon. It never blocks.
func (l *Loop) Notify(uint64) {
	select {
	case l.trigger <- struct{}{}:
	default:
	}
}

// Touched marks the owners of refs (Config.OwnerOf) to be decided and asks for
// a round soon. It never blocks for long.
func (l *Loop) Touched(refs []events.Ref, _ uint64) {
	l.mu.Lock()
	for _, r := range refs {
		if o := l.ownerOf(r); o != "" {
			l.marked[o] = true
		}
	}
	l.mu.Unlock()
	l.Notify(0)
}

// Run decides at once, then after every commit and every tick (as its Mode says)
// until ctx ends. The first round waits until the projection has folded what the log held
// when Run started, so a rebuilt projection decides from the log's present, not a
// replay of its past.
func (l *Loop) Run(ctx context.Context) {
	if err := l.waitCaughtUp(ctx); err != nil && ctx.Err() == nil {
		l.logger.Warn("deciding before the projection caught up", "err", err)
	}
	l.Notify(0) // the first round comes at once, not a tick later
	tick := time.NewTicker(l.tick)
	defer tick.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.trigger:
		case <-tick.C:
		case <-wake.C:
		}
		if l.ready == nil || l.ready(ctx) {
			if err := l.round(ctx); err != nil && ctx.Err() == nil {
				l.logger.Warn(l.name, "err", err)
			}
		}
		if next, ok := l.nextWake(); ok {
			wake.Reset(max(time.Until(next), minWake))
		}
	}
}

// nextWake is the earliest wake-up asked for.
func (l *Loop) nextWake() (time.Time, bool) {
	var next time.Time
	for _, t := range l.wakes {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next, !next.IsZero()
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
	full := l.mode == Full || l.mode == Ticked || l.lastFull.IsZero() || now.Sub(l.lastFull) >= l.resync
	l.mu.Lock()
	marked := l.marked
	l.marked = map[string]bool{}
	l.mu.Unlock()
	var plan []Step
	var checkpoint uint64
	var decided []string
	err := l.runner.View(func(rd projections.Reader, cp uint64) error {
		checkpoint = cp
		owners, err := l.dirty(rd, full, marked, now)
		if err != nil {
			return err
		}
		decided = owners
		plan, err = l.decide(rd, owners, now)
		return err
	})
	if err != nil {
		for o := range marked {
			l.retry[o] = true
		}
		return err
	}
	l.retry = map[string]bool{}
	l.cursor = checkpoint
	if full {
		l.lastFull = now
	}
	for _, o := range decided {
		delete(l.wakes, o)
	}
	return l.apply(ctx, plan)
}

// dirty returns the owners to decide for this round.
func (l *Loop) dirty(rd projections.Reader, full bool, marked map[string]bool, now time.Time) ([]string, error) {
	seen := map[string]bool{}
	var owners []string
	add := func(o string) {
		if !seen[o] {
			seen[o] = true
			owners = append(owners, o)
		}
	}
	if full {
		if l.owners != nil {
			all, err := l.owners(rd)
			for _, o := range all {
				add(o)
			}
			return owners, err
		}
		err := rd.Scan(l.allOwners, false, func(k, _ []byte) bool {
			add(string(k[len(l.allOwners):]))
			return true
		})
		return owners, err
	}
	if l.mode == TouchLog {
		touched, err := TouchedSince(rd, l.cursor)
		if err != nil {
			return nil, err
		}
		for _, o := range touched {
			add(o)
		}
	}
	for o := range marked {
		add(o)
	}
	for o := range l.retry {
		add(o)
	}
	for o, t := range l.wakes {
		if !t.After(now) {
			add(o)
		}
	}
	return owners, nil
}

// apply appends the plan's unguarded actions in one pipeline, then its actions
// guarded by another subject one by one, then runs its effects. Owners whose
// appends conflicted, or that a failure left undecided, are decided again next
// round.
func (l *Loop) apply(ctx context.Context, plan []Step) error {
	if len(plan) == 0 {
		return nil
	}
	var piped, guarded, effects []Step
	for _, st := range plan {
		switch {
		case !st.Wake.IsZero():
			if t, ok := l.wakes[st.Owner]; !ok || st.Wake.Before(t) {
				l.wakes[st.Owner] = st.Wake
			}
		case st.Do != nil:
			effects = append(effects, st)
		case st.Action.Guard != "":
			guarded = append(guarded, st)
		default:
			piped = append(piped, st)
		}
	}
	var conflicted []events.Ref
	err := l.appendPiped(ctx, piped, &conflicted)
	for i, st := range guarded {
		if ctx.Err() != nil {
			l.redo(guarded[i:])
			break
		}
		st.Action.Event.Time = time.Now().UTC()
		if _, aerr := l.log.AppendGuardedBy(ctx, st.Action.Event, st.Action.Expected, st.Action.Guard); aerr != nil {
			l.retry[st.Owner] = true
			if errors.Is(aerr, events.ErrConflict) {
				conflicted = append(conflicted, st.Action.Event.Object)
			} else {
				err = errors.Join(err, aerr)
			}
			continue
		}
		l.appended(st.Action.Event)
	}
	for _, st := range effects {
		if derr := st.Do(ctx); derr != nil {
			l.retry[st.Owner] = true
			err = errors.Join(err, fmt.Errorf("%s: %w", st.Owner, derr))
		}
	}
	if l.refold && len(conflicted) > 0 {
		l.waitFolded(ctx, conflicted)
	}
	return err
}

func (l *Loop) appendPiped(ctx context.Context, plan []Step, conflicted *[]events.Ref) error {
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
			l.appended(r.Event)
		case errors.Is(r.Err, events.ErrConflict):
			l.retry[plan[i].Owner] = true
			*conflicted = append(*conflicted, r.Event.Object)
		default:
			l.retry[plan[i].Owner] = true
			err = errors.Join(err, r.Err)
		}
	}
	l.redo(plan[len(results):])
	return err
}

func (l *Loop) appended(ev *events.Event) {
	l.logger.Debug("appended", "type", ev.Type, "object", ev.Object.String(), "reason", strings.TrimSpace(ev.Reason))
}

// redo marks the owners of steps not known to be done to be decided again.
func (l *Loop) redo(steps []Step) {
	for _, st := range steps {
		l.retry[st.Owner] = true
	}
}

// waitFolded waits (a little) until the projection has folded the newest event
// of each refused subject, so their owners are decided again from fresh state. A
// conflict is never dropped: when the projection is slow, the next round decides
// from what it has and conflicts again.
func (l *Loop) waitFolded(ctx context.Context, refs []events.Ref) {
	var newest uint64
	for _, ref := range refs {
		if v, err := l.log.SubjectVersion(ctx, ref); err == nil {
			newest = max(newest, v)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := l.runner.WaitFor(wctx, newest); err != nil && ctx.Err() == nil {
		l.logger.Warn(l.name+": deciding a conflicted owner before its newer events are folded", "err", err)
	}
	l.Notify(0)
}
