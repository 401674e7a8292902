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

// Shredder destroys the data keys of deleted Secrets.
type Shredder struct {
	keys    *Keyring
	runner  *projections.Runner
	rounds  reconcile.Timer
	logger  *slog.Logger
	trigger chan struct{}
	mu      sync.Mutex
	done    map[string]bool
}

// NewShredder returns a shredder; pass Notify to the runner with
// projections.WithAfterCommit, then Attach the runner.
func NewShredder(keys *Keyring, logger *slog.Logger) *Shredder {
	return &Shredder{keys: keys, logger: logger, trigger: make(chan struct{}, 1), done: map[string]bool{}}
}

// Attach sets the runner folding Projection().
func (s *Shredder) Attach(r *projections.Runner) { s.runner = r }

// Instrument times the secret-shredder's rounds in m.
func (s *Shredder) Instrument(m *reconcile.Metrics) { s.rounds = m.Timer("secret-shredder") }

// Notify asks for a pass soon; it never blocks.
func (s *Shredder) Notify(uint64) {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// Run shreds after every commit until ctx ends. Shredding is idempotent, so after
// a restart every marked key is purged again.
func (s *Shredder) Run(ctx context.Context) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.trigger:
		case <-tick.C:
		}
		if err := s.pass(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("secret shredder", "err", err)
		}
	}
}

func (s *Shredder) pass(ctx context.Context) error {
	defer s.rounds.Since(time.Now())
	var uids []string
	err := s.runner.View(func(rd projections.Reader, _ uint64) error {
		return rd.Scan([]byte("s\x00"), false, func(k, _ []byte) bool {
			uid := string(k[2:])
			s.mu.Lock()
			if !s.done[uid] {
				uids = append(uids, uid)
			}
			s.mu.Unlock()
			return true
		})
	})
	if err != nil {
		return err
	}
	for _, uid := range uids {
		if err := s.keys.Shred(ctx, uid); err != nil {
			return fmt.Errorf("shred %s: %w", uid, err)
		}
		s.mu.Lock()
		s.done[uid] = true
		s.mu.Unlock()
	}
	return nil
}
