package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
)

// The test projection counts events per subject and records every applied
// sequence:
//
//	count/<subject>  -> events folded on the subject
//	seq/<seq:%020d>  -> how many times seq was applied (a duplicate apply makes it 2)
//	total            -> events folded
//
// An event of type "bad" first writes partial/<seq> and then fails, so a runner
// that kept a failed fold's writes shows a partial/ key.
const badType = "bad"

var errBadEvent = errors.New("bad event")

func countFold(s projections.State, ev *events.Event) error {
	if ev.Type == badType {
		if err := s.Set([]byte(fmt.Sprintf("partial/%020d", ev.Seq)), []byte("x")); err != nil {
			return err
		}
		return fmt.Errorf("fold seq %d: %w", ev.Seq, errBadEvent)
	}
	for _, key := range []string{"count/" + ev.Subject, fmt.Sprintf("seq/%020d", ev.Seq), "total"} {
		if err := increment(s, []byte(key)); err != nil {
			return err
		}
	}
	return nil
}

func increment(s projections.State, key []byte) error {
	n := 0
	v, ok, err := s.Get(key)
	if err != nil {
		return err
	}
	if ok {
		if n, err = strconv.Atoi(string(v)); err != nil {
			return fmt.Errorf("key %s holds %q: %w", key, v, err)
		}
	}
	return s.Set(key, []byte(strconv.Itoa(n+1)))
}

func countProjection() projections.Projection {
	return projections.Projection{Name: "count", Version: 1, Fold: countFold}
}

// countingFold wraps fold and counts its calls.
func countingFold(fold projections.Fold, calls *atomic.Int64) projections.Fold {
	return func(s projections.State, ev *events.Event) error {
		calls.Add(1)
		return fold(s, ev)
	}
}

// model folds evs into a MemState the way the runner promises to: a failed fold
// leaves no trace.
func model(t testing.TB, fold projections.Fold, evs []*events.Event) [][2]string {
	t.Helper()
	s := projections.NewMemState()
	for _, ev := range evs {
		scratch := projections.NewMemState()
		for _, kv := range s.Dump() {
			_ = scratch.Set([]byte(kv[0]), []byte(kv[1]))
		}
		if err := fold(scratch, ev); err == nil {
			s = scratch
		}
	}
	return s.Dump()
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// running is a Runner whose Run goroutine the test controls.
type running struct {
	*projections.Runner
	cancel context.CancelFunc
	done   chan error
	closed bool
}

// start opens the projection in dir and runs it until the test ends or stop.
func start(t testing.TB, dir string, log *events.Log, p projections.Projection, opts ...projections.Option) *running {
	t.Helper()
	opts = append([]projections.Option{projections.WithLogger(testLogger(t))}, opts...)
	r, err := projections.Open(dir, p, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return run(t, r)
}

// testLogger sends the runner's reports to the test's output (shown on failure or -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func run(t testing.TB, r *projections.Runner) *running {
	ctx, cancel := context.WithCancel(context.Background())
	rn := &running{Runner: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rn.done <- r.Run(ctx) }()
	t.Cleanup(func() { rn.stop(t) })
	return rn
}

// stop ends Run and closes the database. It is idempotent.
func (rn *running) stop(t testing.TB) {
	t.Helper()
	if rn.closed {
		return
	}
	rn.closed = true
	rn.cancel()
	if err := <-rn.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := rn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func (rn *running) waitFor(t testing.TB, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rn.WaitFor(ctx, seq); err != nil {
		t.Fatal(err)
	}
}

// dump returns every data key and value of the projection in key order, with the
// checkpoint the view reflects.
func dump(t testing.TB, r *projections.Runner) ([][2]string, uint64) {
	t.Helper()
	var out [][2]string
	var cp uint64
	err := r.View(func(rd projections.Reader, checkpoint uint64) error {
		cp = checkpoint
		return rd.Scan(nil, false, func(k, v []byte) bool {
			out = append(out, [2]string{string(k), string(v)})
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, cp
}

func sameDump(t testing.TB, what string, got, want [][2]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: key %d is %q=%q, want %q=%q", what, i, got[i][0], got[i][1], want[i][0], want[i][1])
		}
	}
}

// appendEvents appends evs through one pipeline, guarded by each subject's version.
func appendEvents(t testing.TB, ctx context.Context, log *events.Log, evs []*events.Event) []uint64 {
	t.Helper()
	last, err := log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	version := map[string]uint64{}
	for _, ev := range evs {
		if _, ok := version[ev.Object.Subject()]; !ok {
			if version[ev.Object.Subject()], err = log.SubjectVersion(ctx, ev.Object); err != nil {
				t.Fatal(err)
			}
		}
	}
	var seqs []uint64
	p := log.Pipeline()
	for i, ev := range evs {
		if err := p.Append(ev, version[ev.Object.Subject()]); err != nil {
			t.Fatal(err)
		}
		version[ev.Object.Subject()] = last + uint64(i) + 1 // one writer's appends land in order
		if p.Len() == 1000 || i == len(evs)-1 {
			results, err := p.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				if r.Err != nil {
					t.Fatalf("append: %v", r.Err)
				}
				r.Event.Seq, r.Event.Subject = r.Seq, r.Event.Object.Subject()
				seqs = append(seqs, r.Seq)
			}
		}
	}
	return seqs
}

// newEvents returns n events over objects pods; the indexes in bad get type "bad".
func newEvents(t testing.TB, n, objects int, bad ...int) []*events.Event {
	t.Helper()
	isBad := map[int]bool{}
	for _, i := range bad {
		isBad[i] = true
	}
	evs := make([]*events.Event, n)
	for i := range evs {
		typ := "pod.updated"
		if isBad[i] {
			typ = badType
		}
		ev, err := events.New(typ, events.Ref{Kind: "pod", Namespace: "default", Name: fmt.Sprintf("p%d", i%objects)}, "tester", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		evs[i] = ev
	}
	return evs
}
