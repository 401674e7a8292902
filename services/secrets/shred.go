package secrets

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// Projection folds Secret events: the uid of every live Secret, and a shred mark
// for the uid of every deleted one.
//
// Keys: u\x00<namespace>\x00<name> -> uid; s\x00<uid> -> "" (to shred).
func Projection() projections.Projection {
	return projections.Projection{
		Name: "secret-keys", Version: 1, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{events.KindSubjects("Secret", "", false)},
	}
}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	key := []byte("u\x00" + ev.Object.Namespace + "\x00" + ev.Object.Name)
	switch strings.TrimPrefix(ev.Type, "secret.") {
	case object.Created:
		st, err := object.Fold(nil, ev)
		if err != nil {
			return err
		}
		return s.Set(key, []byte(st.Object.GetUID()))
	case object.Deleted:
		uid, ok, err := s.Get(key)
		if err != nil || !ok {
			return err
		}
		if err := s.Delete(key); err != nil {
			return err
		}
		return s.Set(append([]byte("s\x00"), uid...), nil)
	}
	return nil
}

// Shredder destroys the data keys of deleted Secrets, through the shared
// reconcile loop: after every commit and every few seconds, a round shreds the
// key of each marked uid not yet shredded by this process. Shredding is
// idempotent, so after a restart every marked key is purged again.
type Shredder struct {
	*reconcile.Loop
	keys *Keyring
	mu   sync.Mutex
	done map[string]bool
}

// ShredderOption configures a Shredder.
type ShredderOption func(*Shredder)

// WithTick sets how often a round runs without a commit to react to (default 10s).
func WithTick(d time.Duration) ShredderOption { return func(s *Shredder) { s.SetResync(d, d) } }

// NewShredder returns a shredder of keys' data keys; pass its Hooks to the
// runner, then Attach the runner.
func NewShredder(log *events.Log, logger *slog.Logger, keys *Keyring, opts ...ShredderOption) *Shredder {
	s := &Shredder{keys: keys, done: map[string]bool{}}
	s.Loop = reconcile.New(reconcile.Config{Name: "secret shredder", Log: log, Logger: logger,
		Subjects: Projection().Subjects, Mode: reconcile.Full, AllOwners: []byte("s\x00"), Decide: s.decideRound,
		Tick: 10 * time.Second})
	for _, o := range opts {
		o(s)
	}
	return s
}

// decideRound shreds each marked uid this process has not shredded yet.
func (s *Shredder) decideRound(_ projections.Reader, uids []string, _ time.Time) ([]reconcile.Step, error) {
	var plan []reconcile.Step
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, uid := range uids {
		if !s.done[uid] {
			plan = append(plan, reconcile.Step{Owner: uid, Do: func(ctx context.Context) error { return s.shred(ctx, uid) }})
		}
	}
	return plan, nil
}

func (s *Shredder) shred(ctx context.Context, uid string) error {
	if err := s.keys.Shred(ctx, uid); err != nil {
		return fmt.Errorf("shred %s: %w", uid, err)
	}
	s.mu.Lock()
	s.done[uid] = true
	s.mu.Unlock()
	return nil
}
