package eventstest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
)

// ReadAll returns every event of the log on subject (a subject filter, wildcards
// allowed), oldest first.
func ReadAll(tb testing.TB, log *events.Log, subject string) []*events.Event {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cur, err := log.Read(ctx, events.ReadOptions{Subjects: []string{subject}, Bounded: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer cur.Close()
	var out []*events.Event
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		ev, err := rec.Decode()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, ev)
	}
}

// Within is how long Eventually waits: long enough for a loaded machine running
// a whole control plane, short enough that a test waiting for what never happens
// fails in its own time.
const Within = 20 * time.Second

// Eventually polls cond until it holds, failing the test with what if it does not
// within Within.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	EventuallyWithin(tb, Within, what, cond)
}

// EventuallyWithin is Eventually for a test whose point is how soon cond holds.
func EventuallyWithin(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s", what, within)
		}
	}
}
