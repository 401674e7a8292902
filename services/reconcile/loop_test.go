package reconcile_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/reconcile"
)

// The loop's tests run it over a real JetStream and Pebble projection: the
// projection folds ConfigMap events into o\x00<name> -> version, and the owners
// are the ConfigMaps.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func versions() projections.Projection {
	return projections.Projection{Name: "loop-test", Version: 1,
		Subjects: []string{events.KindSubjects("ConfigMap", "", false)},
		Fold: func(s projections.State, ev *events.Event) error {
			return s.Set([]byte("o\x00"+ev.Object.Name), []byte(strconv.FormatUint(ev.Seq, 10)))
		}}
}

func configMap(name string) events.Ref {
	return events.Ref{Kind: "ConfigMap", Namespace: "shop", Name: name}
}

func appendConfigMap(t *testing.T, log *events.Log, name string) uint64 {
	t.Helper()
	ev, err := events.New("configmap.created", configMap(name), "someone", nil)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := log.Append(context.Background(), ev, 0)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func version(t *testing.T, rd projections.Reader, name string) uint64 {
	raw, _, err := rd.Get([]byte("o\x00" + name))
	if err != nil {
		t.Error(err)
	}
	v, _ := strconv.ParseUint(string(raw), 10, 64)
	return v
}

// A guarded action that conflicts makes its owner be decided again, without a
// commit or a full round to bring it back: the second decision, from the same
// state, appends.
func TestLoopDecidesAConflictedOwnerAgain(t *testing.T) {
	log := eventstest.Start(t).Log
	appendConfigMap(t, log, "a")
	var calls atomic.Int32
	loop := reconcile.New(reconcile.Config{Name: "test", Log: log, Logger: quiet,
		Subjects: versions().Subjects, Mode: reconcile.Marked, AllOwners: []byte("o\x00"),
		OwnerOf: func(r events.Ref) string { return r.Name }, Tick: 20 * time.Millisecond, Resync: time.Hour,
		Decide: func(rd projections.Reader, owners []string, _ time.Time) ([]reconcile.Step, error) {
			var plan []reconcile.Step
			for _, o := range owners {
				v := version(t, rd, o)
				if calls.Add(1) == 1 {
					v-- // as if decided from an older state: the append conflicts
				}
				a := reconcile.NewAction("system:test", events.Event{}, "secret.marked",
					events.Ref{Kind: "Secret", Namespace: "shop", Name: o}, v, "test", nil)
				a.Guard = configMap(o).Subject()
				plan = append(plan, reconcile.Step{Owner: o, Action: a})
			}
			return plan, nil
		}})
	controlplanetest.RunController(t, log, versions(), loop)
	eventstest.Eventually(t, "the mark appended after the conflict", func() bool {
		return len(eventstest.ReadAll(t, log, events.KindSubjects("Secret", "", false))) == 1
	})
	if n := calls.Load(); n < 2 {
		t.Fatalf("decided %d times, want at least 2", n)
	}
}

// An effect that fails is run again the next round, though nothing touched its
// owner since.
func TestLoopRetriesAFailedEffect(t *testing.T) {
	log := eventstest.Start(t).Log
	appendConfigMap(t, log, "a")
	var runs atomic.Int32
	done := make(chan struct{})
	var once sync.Once
	loop := reconcile.New(reconcile.Config{Name: "test", Log: log, Logger: quiet,
		Subjects: versions().Subjects, Mode: reconcile.Marked, AllOwners: []byte("o\x00"),
		OwnerOf: func(r events.Ref) string { return r.Name }, Tick: 20 * time.Millisecond, Resync: time.Hour,
		Decide: func(_ projections.Reader, owners []string, _ time.Time) ([]reconcile.Step, error) {
			var plan []reconcile.Step
			for _, o := range owners {
				plan = append(plan, reconcile.Step{Owner: o, Do: func(context.Context) error {
					if runs.Add(1) == 1 {
						return errors.New("not yet")
					}
					once.Do(func() { close(done) })
					return nil
				}})
			}
			return plan, nil
		}})
	controlplanetest.RunController(t, log, versions(), loop)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the failed effect ran %d times in 10s, want a second run", runs.Load())
	}
}

// A ticked loop decides for every owner each tick, and never while Ready says no.
func TestLoopTickedRoundsWaitUntilReady(t *testing.T) {
	log := eventstest.Start(t).Log
	appendConfigMap(t, log, "a")
	appendConfigMap(t, log, "b")
	var ready atomic.Bool
	var mu sync.Mutex
	var rounds [][]string
	loop := reconcile.New(reconcile.Config{Name: "test", Log: log, Logger: quiet,
		Subjects: versions().Subjects, Mode: reconcile.Ticked, AllOwners: []byte("o\x00"),
		Ready: func(context.Context) bool { return ready.Load() }, Tick: 20 * time.Millisecond,
		Decide: func(_ projections.Reader, owners []string, _ time.Time) ([]reconcile.Step, error) {
			mu.Lock()
			rounds = append(rounds, owners)
			mu.Unlock()
			return nil, nil
		}})
	if hooks := loop.Hooks(); len(hooks) != 0 {
		t.Fatalf("a ticked loop has %d runner hooks, want none", len(hooks))
	}
	controlplanetest.RunController(t, log, versions(), loop)
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	early := len(rounds)
	mu.Unlock()
	if early != 0 {
		t.Fatalf("%d rounds ran while not ready, want none", early)
	}
	ready.Store(true)
	eventstest.Eventually(t, "three ticked rounds", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(rounds) >= 3
	})
	mu.Lock()
	defer mu.Unlock()
	for i, owners := range rounds {
		if len(owners) != 2 {
			t.Errorf("round %d decided for %q, want every owner (a, b)", i, owners)
		}
	}
}

// A decision's wake-up decides for its owner again at the time asked, though
// nothing touches it and neither a tick nor a resync comes before; deciding for
// the owner again drops the wake-up it asked for before.
func TestLoopWakesAnOwnerAtTheTimeAsked(t *testing.T) {
	log := eventstest.Start(t).Log
	appendConfigMap(t, log, "a")
	var mu sync.Mutex
	var at []time.Time
	loop := reconcile.New(reconcile.Config{Name: "test", Log: log, Logger: quiet,
		Subjects: versions().Subjects, Mode: reconcile.Marked, AllOwners: []byte("o\x00"),
		OwnerOf: func(r events.Ref) string { return r.Name }, Tick: time.Hour, Resync: time.Hour,
		Decide: func(_ projections.Reader, owners []string, now time.Time) ([]reconcile.Step, error) {
			mu.Lock()
			defer mu.Unlock()
			var plan []reconcile.Step
			for _, o := range owners {
				at = append(at, now)
				if len(at) < 3 {
					plan = append(plan, reconcile.Step{Owner: o, Wake: now.Add(300 * time.Millisecond)})
				}
			}
			return plan, nil
		}})
	controlplanetest.RunController(t, log, versions(), loop)
	eventstest.Eventually(t, "three decisions", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(at) >= 3
	})
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(at) != 3 {
		t.Errorf("decided %d times, want 3 (the first round, then two wake-ups)", len(at))
	}
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d < 300*time.Millisecond || d > 2*time.Second {
			t.Errorf("decision %d came %s after the one before, want about 300ms", i, d)
		}
	}
}
