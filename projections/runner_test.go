package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/projections"
)

func TestRunnerFoldsEverything(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	before := newEvents(t, 120, 7)
	appendEvents(t, ctx, srv.Log, before)
	rn := start(t, t.TempDir(), srv.Log, countProjection(), projections.WithBatchSize(50))
	after := newEvents(t, 80, 5) // live events, folded as they arrive
	seqs := appendEvents(t, ctx, srv.Log, after)
	last := seqs[len(seqs)-1]
	rn.waitFor(t, last)

	got, cp := dump(t, rn.Runner)
	if cp != last || rn.Checkpoint() != last {
		t.Fatalf("checkpoint %d (view %d), want %d", rn.Checkpoint(), cp, last)
	}
	sameDump(t, "projection", got, model(t, countFold, append(before, after...)))
	st := rn.Status()
	if st.Name != "count" || st.Checkpoint != last || st.Folded != 200 || st.Rejected != 0 || len(st.Recent) != 0 {
		t.Fatalf("status %+v", st)
	}

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := rn.WaitFor(short, last+1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor a sequence not yet appended: %v, want a deadline error", err)
	}
}

// A failed fold becomes a rejection: its partial writes are undone while the events
// around it in the same batch are applied.
func TestRunnerRejectsFailedFolds(t *testing.T) {
	cases := []struct {
		name  string
		n     int
		bad   []int
		batch int
	}{
		{"middle of a batch", 9, []int{4}, 1000},
		{"first of a batch", 9, []int{0}, 1000},
		{"last of the log", 9, []int{8}, 1000},
		{"two in a row", 9, []int{3, 4}, 1000},
		{"every other", 10, []int{1, 3, 5, 7, 9}, 1000},
		{"across small batches", 20, []int{2, 3, 6, 9, 13, 19}, 3},
		{"all bad", 4, []int{0, 1, 2, 3}, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := eventstest.Start(t)
			ctx := testContext(t)
			evs := newEvents(t, tc.n, 3, tc.bad...)
			seqs := appendEvents(t, ctx, srv.Log, evs) // all appended first: they share batches
			rn := start(t, t.TempDir(), srv.Log, countProjection(), projections.WithBatchSize(tc.batch))
			last := seqs[len(seqs)-1]
			rn.waitFor(t, last)

			got, cp := dump(t, rn.Runner)
			if cp != last {
				t.Fatalf("checkpoint %d, want %d", cp, last)
			}
			sameDump(t, "projection", got, model(t, countFold, evs))
			for _, kv := range got {
				if strings.HasPrefix(kv[0], "partial/") {
					t.Fatalf("the failed fold's write %s survived", kv[0])
				}
			}
			st := rn.Status()
			if st.Rejected != uint64(len(tc.bad)) || st.Folded != uint64(tc.n-len(tc.bad)) {
				t.Fatalf("status %+v: want %d rejected and %d folded", st, len(tc.bad), tc.n-len(tc.bad))
			}
			if len(st.Recent) != len(tc.bad) {
				t.Fatalf("%d recent rejections, want %d", len(st.Recent), len(tc.bad))
			}
			for i, rj := range st.Recent { // newest first
				ev := evs[tc.bad[len(tc.bad)-1-i]]
				if rj.Seq != ev.Seq || rj.Subject != ev.Subject || !strings.Contains(rj.Error, errBadEvent.Error()) || rj.Time.IsZero() {
					t.Fatalf("rejection %d is %+v, want seq %d on %s", i, rj, ev.Seq, ev.Subject)
				}
			}
		})
	}
}

func TestRunnerKeepsTenRecentRejections(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	bad := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	evs := newEvents(t, 14, 2, bad...)
	seqs := appendEvents(t, ctx, srv.Log, evs)
	rn := start(t, t.TempDir(), srv.Log, countProjection())
	rn.waitFor(t, seqs[len(seqs)-1])
	st := rn.Status()
	if st.Rejected != 12 || len(st.Recent) != 10 || st.Recent[0].Seq != seqs[11] || st.Recent[9].Seq != seqs[2] {
		t.Fatalf("status %+v: want 12 rejected, the 10 newest listed from seq %d", st, seqs[11])
	}
}

// A malformed message on the bus is rejected without stopping the projection.
func TestRunnerRejectsMalformedMessages(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	rn := start(t, t.TempDir(), srv.Log, countProjection())

	good := newEvents(t, 3, 3)
	appendEvents(t, ctx, srv.Log, good[:1])
	// Core publishes on the same connection are stored in order, before the next append.
	if err := srv.NC.Publish("ev.pod.default.raw", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	newer := good[1]
	newer.Schema = events.SchemaVersion + 1
	wrong := newEvents(t, 1, 1)[0]
	for subj, ev := range map[string]*events.Event{newer.Object.Subject(): newer, "ev.pod.default.elsewhere": wrong} {
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Log.JetStream().Publish(ctx, subj, data); err != nil {
			t.Fatal(err)
		}
	}
	seqs := appendEvents(t, ctx, srv.Log, good[2:])
	rn.waitFor(t, seqs[0])

	st := rn.Status()
	if st.Rejected != 3 || st.Folded != 2 || st.Checkpoint != seqs[0] {
		t.Fatalf("status %+v: want 3 rejected, 2 folded, checkpoint %d", st, seqs[0])
	}
	for _, rj := range st.Recent {
		if !strings.Contains(rj.Error, events.ErrMalformed.Error()) {
			t.Errorf("rejection %+v does not say the event is malformed", rj)
		}
	}
	got, _ := dump(t, rn.Runner)
	sameDump(t, "projection", got, model(t, countFold, []*events.Event{good[0], good[2]}))

	// Still folding.
	more := appendEvents(t, ctx, srv.Log, newEvents(t, 5, 5))
	rn.waitFor(t, more[len(more)-1])
}

func TestRunnerResumesFromCheckpoint(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	dir := t.TempDir()
	var calls atomic.Int64
	p := countProjection()
	p.Fold = countingFold(countFold, &calls)

	first := appendEvents(t, ctx, srv.Log, newEvents(t, 50, 4, 10))
	rn := start(t, dir, srv.Log, p, projections.WithBatchSize(8))
	rn.waitFor(t, first[len(first)-1])
	before, _ := dump(t, rn.Runner)
	rejected := rn.Status().Rejected
	rn.stop(t)

	r, err := projections.Open(dir, p, srv.Log, projections.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if cp := r.Checkpoint(); cp != first[len(first)-1] {
		r.Close()
		t.Fatalf("reopened at checkpoint %d, want %d: the projection was wiped instead of resumed", cp, first[len(first)-1])
	}
	if st := r.Status(); st.Rejected != rejected {
		t.Errorf("reopened with %d rejections, want %d", st.Rejected, rejected)
	}
	reopened, _ := dump(t, r)
	sameDump(t, "reopened", reopened, before)

	calls.Store(0)
	rn = run(t, r)
	second := appendEvents(t, ctx, srv.Log, newEvents(t, 30, 4))
	rn.waitFor(t, second[len(second)-1])
	if n := calls.Load(); n != 30 {
		t.Fatalf("the fold ran %d times after the restart, want 30 (only the new events)", n)
	}
	got, _ := dump(t, rn.Runner)
	for _, kv := range got {
		if strings.HasPrefix(kv[0], "seq/") && kv[1] != "1" {
			t.Fatalf("%s applied %s times", kv[0], kv[1])
		}
	}
}

func TestRebuildIsByteIdentical(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	dir := t.TempDir()
	evs := newEvents(t, 300, 9, 5, 77, 150, 299)
	seqs := appendEvents(t, ctx, srv.Log, evs)
	last := seqs[len(seqs)-1]
	rn := start(t, dir, srv.Log, countProjection(), projections.WithBatchSize(64))
	rn.waitFor(t, last)
	before, _ := dump(t, rn.Runner)
	sameDump(t, "first build", before, model(t, countFold, evs))

	if err := rn.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	rn.waitFor(t, last)
	rebuilt, cp := dump(t, rn.Runner)
	if cp != last {
		t.Fatalf("rebuilt to checkpoint %d, want %d", cp, last)
	}
	sameDump(t, "rebuilt while running", rebuilt, before)
	if st := rn.Status(); st.Rejected != 4 || len(st.Recent) != 4 {
		t.Fatalf("after rebuild: status %+v, want the 4 rejections again", st)
	}

	// The rebuilt runner keeps folding new events.
	more := newEvents(t, 20, 9)
	seqs = appendEvents(t, ctx, srv.Log, more)
	last = seqs[len(seqs)-1]
	rn.waitFor(t, last)
	before, _ = dump(t, rn.Runner)
	sameDump(t, "after rebuild", before, model(t, countFold, append(evs, more...)))

	// Deleted while stopped: reopening rebuilds the same bytes.
	rn.stop(t)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	rn = start(t, dir, srv.Log, countProjection())
	rn.waitFor(t, last)
	fresh, _ := dump(t, rn.Runner)
	sameDump(t, "rebuilt from an empty directory", fresh, before)
}

func TestRebuildNeedsARunningRunner(t *testing.T) {
	srv := eventstest.Start(t)
	r, err := projections.Open(t.TempDir(), countProjection(), srv.Log, projections.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.Rebuild(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Rebuild without Run: %v, want the context's error", err)
	}
}

func TestVersionChangeWipesAndRebuilds(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	dir := t.TempDir()
	evs := newEvents(t, 40, 4, 7)
	seqs := appendEvents(t, ctx, srv.Log, evs)
	last := seqs[len(seqs)-1]
	rn := start(t, dir, srv.Log, countProjection())
	rn.waitFor(t, last)
	rn.stop(t)

	// Version 2 keeps only the per-subject counts under a new prefix.
	foldV2 := func(s projections.State, ev *events.Event) error {
		return increment(s, []byte("v2/"+ev.Object.Name))
	}
	p := projections.Projection{Name: "count", Version: 2, Fold: foldV2}
	r, err := projections.Open(dir, p, srv.Log, projections.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if got, cp := dump(t, r); len(got) != 0 || cp != 0 || r.Checkpoint() != 0 || r.Status().Rejected != 0 {
		r.Close()
		t.Fatalf("version 2 opened with %d keys at checkpoint %d (%d): want an empty database", len(got), cp, r.Checkpoint())
	}
	rn = run(t, r)
	rn.waitFor(t, last)
	got, _ := dump(t, rn.Runner)
	sameDump(t, "version 2", got, model(t, foldV2, evs))
}

// A view is a snapshot: commits made while it is open are not visible in it, and
// its data always agrees with its checkpoint.
func TestViewIsASnapshot(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	rn := start(t, t.TempDir(), srv.Log, countProjection(), projections.WithBatchSize(3))
	first := appendEvents(t, ctx, srv.Log, newEvents(t, 30, 3))
	rn.waitFor(t, first[len(first)-1])

	err := rn.View(func(rd projections.Reader, checkpoint uint64) error {
		before := scanAll(t, rd)
		more := appendEvents(t, ctx, srv.Log, newEvents(t, 20, 3))
		rn.waitFor(t, more[len(more)-1]) // committed while the view is open
		sameDump(t, "view after newer commits", scanAll(t, rd), before)
		if v, ok, err := rd.Get([]byte("total")); err != nil || !ok || string(v) != fmt.Sprint(checkpoint) {
			return fmt.Errorf("total %q (%v, %v) in a view at checkpoint %d", v, ok, err, checkpoint)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Views taken while events stream in always match their checkpoint.
	stop := make(chan struct{})
	errc := make(chan error, 1)
	var views atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				errc <- nil
				return
			default:
			}
			if err := rn.View(checkViewAgrees); err != nil {
				errc <- err
				return
			}
			views.Add(1)
		}
	}()
	var seqs []uint64
	for range 25 {
		seqs = appendEvents(t, ctx, srv.Log, newEvents(t, 20, 10))
	}
	rn.waitFor(t, seqs[len(seqs)-1])
	close(stop)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if views.Load() == 0 {
		t.Fatal("no view was taken while events streamed in")
	}
}

// checkViewAgrees checks that a view of the count projection (all events good, no
// filter) holds exactly the sequences 1..checkpoint.
func checkViewAgrees(rd projections.Reader, checkpoint uint64) error {
	applied := 0
	var newest string
	if err := rd.Scan([]byte("seq/"), true, func(k, _ []byte) bool {
		if applied == 0 {
			newest = string(k)
		}
		applied++
		return true
	}); err != nil {
		return err
	}
	if applied != int(checkpoint) || (checkpoint > 0 && newest != fmt.Sprintf("seq/%020d", checkpoint)) {
		return fmt.Errorf("view at checkpoint %d holds %d applied sequences, newest %s", checkpoint, applied, newest)
	}
	return nil
}

func scanAll(t testing.TB, rd projections.Reader) [][2]string {
	t.Helper()
	var out [][2]string
	if err := rd.Scan(nil, false, func(k, v []byte) bool {
		out = append(out, [2]string{string(k), string(v)})
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// A projection's Prepare runs ahead of its fold on every decodable event, and
// the fold sees what it prepared, also when a rejection makes the batch refold.
func TestPrepareRunsAheadOfTheFold(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	var prepared atomic.Int64
	p := countProjection()
	p.Prepare = func(ev *events.Event) {
		prepared.Add(1)
		ev.Decoded = "prepared " + ev.ID
	}
	fold := p.Fold
	p.Fold = func(s projections.State, ev *events.Event) error {
		if ev.Decoded != "prepared "+ev.ID {
			return fmt.Errorf("seq %d folded unprepared (%v)", ev.Seq, ev.Decoded)
		}
		return fold(s, ev)
	}
	evs := newEvents(t, 500, 7, 3, 4, 250, 499)
	seqs := appendEvents(t, ctx, srv.Log, evs)
	rn := start(t, t.TempDir(), srv.Log, p, projections.WithBatchSize(64))
	rn.waitFor(t, seqs[len(seqs)-1])
	got, _ := dump(t, rn.Runner)
	sameDump(t, "prepared projection", got, model(t, countFold, evs))
	if st := rn.Status(); st.Rejected != 4 || st.Folded != 496 {
		t.Fatalf("status %+v, want the 4 bad events rejected and 496 folded", st)
	}
	for _, rj := range rn.Status().Recent {
		if strings.Contains(rj.Error, "unprepared") {
			t.Fatalf("an event reached the fold unprepared: %+v", rj)
		}
	}
	if n := prepared.Load(); n != 500 {
		t.Fatalf("Prepare ran %d times, want once per event (500)", n)
	}
}

// TestRunnerStopsWhenTheStreamIsDeleted deletes the stream of record under a
// running projection: Run returns promptly with an error naming the lost stream
// instead of resuming without end, and keeps what it folded.
func TestRunnerStopsWhenTheStreamIsDeleted(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	seqs := appendEvents(t, ctx, srv.Log, newEvents(t, 20, 4))
	r, err := projections.Open(t.TempDir(), countProjection(), srv.Log, projections.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	if err := r.WaitFor(ctx, seqs[len(seqs)-1]); err != nil {
		t.Fatal(err)
	}
	if err := srv.Log.JetStream().DeleteStream(ctx, events.DefaultStream); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, events.ErrStreamGone) || !strings.Contains(err.Error(), "projection count stopped at sequence 20") {
			t.Errorf("Run after the stream's deletion: %v, want an error wrapping events.ErrStreamGone naming the projection and its checkpoint", err)
		}
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		t.Fatal("Run kept resuming for 10s after the stream of record was deleted")
	}
	if cp := r.Checkpoint(); cp != seqs[len(seqs)-1] {
		t.Errorf("checkpoint %d after the stream's deletion, want %d", cp, seqs[len(seqs)-1])
	}
}
