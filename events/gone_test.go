package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
)

// nextWithin runs cur.Next(ctx) and fails the test when it has not returned
// within d (the goroutine is then left behind, and the leak check names it).
func nextWithin(t *testing.T, ctx context.Context, cur *events.Cursor, d time.Duration) (events.Record, error) {
	t.Helper()
	type result struct {
		rec events.Record
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := cur.Next(ctx)
		done <- result{rec, err}
	}()
	select {
	case r := <-done:
		return r.rec, r.err
	case <-time.After(d):
		t.Fatalf("Cursor.Next did not return within %s", d)
		return events.Record{}, nil
	}
}

// wantGone checks that err says the stream of record is gone, by name.
func wantGone(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, events.ErrStreamGone) {
		t.Errorf("%s: %v, want an error wrapping ErrStreamGone", what, err)
		return
	}
	if msg := err.Error(); !strings.Contains(msg, "stream of record WAKE does not exist") || !strings.Contains(msg, "deleted") {
		t.Errorf("%s: %q does not say that the stream WAKE was deleted", what, msg)
	}
}

// TestCursorsEndWhenTheStreamIsDeleted deletes the stream of record under a
// cursor waiting for new events and one part way through the log: each Next
// returns promptly, with an error naming the lost stream, instead of retrying
// without end; so does every other use of the log.
func TestCursorsEndWhenTheStreamIsDeleted(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	appendAll(t, ctx, srv.Log, podEvents(t, 10, 3))

	live := read(t, ctx, srv.Log, events.ReadOptions{})
	for range 10 {
		if _, err := live.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	bounded := read(t, ctx, srv.Log, events.ReadOptions{Bounded: true})
	waiting := make(chan error, 1)
	go func() {
		_, err := live.Next(ctx) // caught up: waits for the next event
		waiting <- err
	}()
	time.Sleep(200 * time.Millisecond)

	if err := srv.Log.JetStream().DeleteStream(ctx, events.DefaultStream); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waiting:
		wantGone(t, "a cursor waiting for new events", err)
	case <-time.After(10 * time.Second):
		t.Fatal("a cursor waiting for new events did not return within 10s of its stream's deletion")
	}
	_, err := nextWithin(t, ctx, bounded, 10*time.Second)
	wantGone(t, "a bounded cursor part way through the log", err)

	_, err = srv.Log.Read(ctx, events.ReadOptions{})
	wantGone(t, "Read", err)
	_, err = srv.Log.LastSeq(ctx)
	wantGone(t, "LastSeq", err)
	_, err = srv.Log.SubjectVersion(ctx, podRef("p0"))
	wantGone(t, "SubjectVersion", err)
	_, err = srv.Log.Get(ctx, 1)
	wantGone(t, "Get", err)
	ev, err := events.New("pod.created", podRef("late"), "user:test", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Log.Append(ctx, ev, 0)
	wantGone(t, "Append", err)
}

// TestCursorNextHonoursItsContext ends the context of a Next that waits for new
// events: it returns the context's error at once.
func TestCursorNextHonoursItsContext(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	cur := read(t, ctx, srv.Log, events.ReadOptions{})
	nctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := nextWithin(t, nctx, cur, 5*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next after its context ended: %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Next took %s to notice its context ended", took)
	}
}
