package events_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
)

// appendAll appends the events through one pipeline, each guarded by its subject's
// current version, and returns their sequences.
func appendAll(t testing.TB, ctx context.Context, log *events.Log, evs []*events.Event) []uint64 {
	t.Helper()
	version := map[string]uint64{}
	for _, ev := range evs {
		subj := ev.Object.Subject()
		if _, ok := version[subj]; !ok {
			v, err := log.SubjectVersion(ctx, ev.Object)
			if err != nil {
				t.Fatal(err)
			}
			version[subj] = v
		}
	}
	last, err := log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := log.Pipeline()
	for i, ev := range evs {
		subj := ev.Object.Subject()
		if err := p.Append(ev, version[subj]); err != nil {
			t.Fatal(err)
		}
		version[subj] = last + uint64(i) + 1 // a lone writer's appends land in order
	}
	results, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, len(results))
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("append %d: %v", i, r.Err)
		}
		seqs[i] = r.Seq
	}
	return seqs
}

// readAll reads a bounded cursor to io.EOF.
func readAll(t testing.TB, ctx context.Context, cur *events.Cursor) []events.Record {
	t.Helper()
	var out []events.Record
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(out), err)
		}
		out = append(out, rec)
	}
}

func podEvents(t testing.TB, n, objects int) []*events.Event {
	evs := make([]*events.Event, n)
	for i := range evs {
		evs[i] = mustNew(t, "pod.updated", podRef(fmt.Sprintf("p%d", i%objects)), map[string]int{"i": i})
	}
	return evs
}

func read(t *testing.T, ctx context.Context, log *events.Log, opts events.ReadOptions) *events.Cursor {
	t.Helper()
	cur, err := log.Read(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cur.Close)
	return cur
}

func TestReadFromSequence(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	evs := podEvents(t, 30, 3)
	seqs := appendAll(t, ctx, srv.Log, evs)
	for _, from := range []uint64{0, 1, 11, 30} {
		t.Run(fmt.Sprint("from=", from), func(t *testing.T) {
			cur := read(t, ctx, srv.Log, events.ReadOptions{From: from})
			start := max(from, 1)
			for want := start; want <= 30; want++ {
				rec, err := cur.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rec.Seq != want || rec.Pending != 30-want {
					t.Fatalf("got seq %d pending %d, want seq %d pending %d", rec.Seq, rec.Pending, want, 30-want)
				}
				ev, err := rec.Decode()
				if err != nil {
					t.Fatal(err)
				}
				if i := want - 1; ev.ID != evs[i].ID || ev.Seq != seqs[i] || rec.Subject != evs[i].Object.Subject() {
					t.Fatalf("seq %d is %s on %s, want %s on %s", want, ev.ID, rec.Subject, evs[i].ID, evs[i].Object.Subject())
				}
			}
			// Caught up: an unbounded cursor waits for the next event.
			short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			if rec, err := cur.Next(short); err == nil {
				t.Fatalf("a caught-up cursor delivered seq %d", rec.Seq)
			}
		})
	}

	cur := read(t, ctx, srv.Log, events.ReadOptions{From: 31})
	got := make(chan events.Record, 1)
	errc := make(chan error, 1)
	go func() {
		rec, err := cur.Next(ctx)
		errc <- err
		got <- rec
	}()
	seq := appendAll(t, ctx, srv.Log, podEvents(t, 1, 1))[0]
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if rec := <-got; rec.Seq != seq || rec.Pending != 0 {
		t.Fatalf("live event: seq %d pending %d, want seq %d pending 0", rec.Seq, rec.Pending, seq)
	}
	cur.Close()
	cur.Close() // idempotent
}

func TestReadSince(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	appendAll(t, ctx, srv.Log, podEvents(t, 5, 2))
	time.Sleep(20 * time.Millisecond) // a gap in stored times between the two groups
	second := appendAll(t, ctx, srv.Log, podEvents(t, 5, 2))

	all := readAll(t, ctx, read(t, ctx, srv.Log, events.ReadOptions{Bounded: true}))
	if len(all) != 10 {
		t.Fatalf("%d events, want 10", len(all))
	}
	for _, since := range []time.Time{all[5].Time, all[4].Time.Add(time.Millisecond)} {
		recs := readAll(t, ctx, read(t, ctx, srv.Log, events.ReadOptions{Since: since, Bounded: true}))
		if len(recs) != 5 || recs[0].Seq != second[0] {
			t.Fatalf("since %v: %d events from seq %d, want 5 from seq %d", since, len(recs), recs[0].Seq, second[0])
		}
	}
	if recs := readAll(t, ctx, read(t, ctx, srv.Log, events.ReadOptions{Since: all[9].Time.Add(time.Hour), Bounded: true})); len(recs) != 0 {
		t.Fatalf("since the future delivered %d events", len(recs))
	}
	// From wins over Since.
	recs := readAll(t, ctx, read(t, ctx, srv.Log, events.ReadOptions{From: 3, Since: all[5].Time, Bounded: true}))
	if len(recs) != 8 || recs[0].Seq != 3 {
		t.Fatalf("from 3 with since: %d events from %d", len(recs), recs[0].Seq)
	}
}

func TestReadSubjects(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	var evs []*events.Event
	for i := range 30 {
		var ref events.Ref
		switch i % 3 {
		case 0:
			ref = podRef(fmt.Sprintf("p%d", i))
		case 1:
			ref = events.Ref{Kind: "pod", Namespace: "prod", Name: fmt.Sprintf("p%d", i)}
		default:
			ref = events.Ref{Kind: "node", Name: fmt.Sprintf("n%d.example", i)}
		}
		evs = append(evs, mustNew(t, ref.Kind+".updated", ref, nil))
	}
	seqs := appendAll(t, ctx, srv.Log, evs)
	cases := []struct {
		name     string
		subjects []string
		keep     func(i int) bool
	}{
		{"one namespace", []string{events.KindSubjects("pod", "default", false)}, func(i int) bool { return i%3 == 0 }},
		{"all namespaces", []string{events.KindSubjects("pod", "", false)}, func(i int) bool { return i%3 != 2 }},
		{"cluster scoped", []string{events.KindSubjects("node", "", true)}, func(i int) bool { return i%3 == 2 }},
		{"two filters", []string{events.KindSubjects("pod", "prod", false), events.KindSubjects("node", "", true)}, func(i int) bool { return i%3 != 0 }},
		{"one object", []string{evs[4].Object.Subject()}, func(i int) bool { return i == 4 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []uint64
			for i := range evs {
				if tc.keep(i) {
					want = append(want, seqs[i])
				}
			}
			recs := readAll(t, ctx, read(t, ctx, srv.Log, events.ReadOptions{Subjects: tc.subjects, Bounded: true}))
			if len(recs) != len(want) {
				t.Fatalf("%d records, want %d", len(recs), len(want))
			}
			for i, rec := range recs {
				if rec.Seq != want[i] || rec.Pending != uint64(len(want)-1-i) {
					t.Fatalf("record %d: seq %d pending %d, want seq %d pending %d", i, rec.Seq, rec.Pending, want[i], len(want)-1-i)
				}
			}
		})
	}
}

func TestBoundedCursorEndsWithEOF(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)

	empty := read(t, ctx, srv.Log, events.ReadOptions{Bounded: true})
	if rec, err := empty.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("empty log: %+v, %v; want io.EOF", rec, err)
	}

	const n = 5000 // more than one fetch of the bounded cursor
	appendAll(t, ctx, srv.Log, podEvents(t, n, 50))
	for _, from := range []uint64{1, 2500, n, n + 1} {
		recs := readAll(t, ctx, read(t, ctx, srv.Log, events.ReadOptions{From: from, Bounded: true}))
		if want := n - int(from) + 1; len(recs) != want {
			t.Fatalf("from %d: %d records, want %d", from, len(recs), want)
		}
		for i, rec := range recs {
			if rec.Seq != from+uint64(i) {
				t.Fatalf("from %d: record %d has seq %d", from, i, rec.Seq)
			}
		}
	}

	none := read(t, ctx, srv.Log, events.ReadOptions{Subjects: []string{events.KindSubjects("service", "", false)}, Bounded: true})
	for range 2 {
		if rec, err := none.Next(ctx); !errors.Is(err, io.EOF) {
			t.Fatalf("filter matching nothing: %+v, %v; want io.EOF", rec, err)
		}
	}
}

func TestSubjectVersion(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	a, b := podRef("a"), podRef("b")
	seqs := appendAll(t, ctx, srv.Log, []*events.Event{
		mustNew(t, "pod.created", a, nil), mustNew(t, "pod.created", b, nil), mustNew(t, "pod.updated", a, nil),
	})
	for _, tc := range []struct {
		ref  events.Ref
		want uint64
	}{{a, seqs[2]}, {b, seqs[1]}, {podRef("c"), 0}, {events.Ref{Kind: "node", Name: "a"}, 0}} {
		if got := subjectVersion(t, ctx, srv.Log, tc.ref); got != tc.want {
			t.Errorf("SubjectVersion(%s) = %d, want %d", tc.ref, got, tc.want)
		}
	}
}

// TestReadTimeIsStoredTime: an event's time, read back from the log, is when the
// log stored it, not what its writer wrote in the envelope; the claimed time is
// kept apart. Appending through Log (which sets the time itself) changes nothing.
func TestReadTimeIsStoredTime(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	liar := mustNew(t, "pod.updated", podRef("liar"), nil)
	claimed := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	liar.Time = claimed
	honest := mustNew(t, "pod.updated", podRef("honest"), nil)
	before := time.Now()
	seqs := appendAll(t, ctx, srv.Log, []*events.Event{liar, honest})
	after := time.Now()

	recs := readAll(t, ctx, read(t, ctx, srv.Log, events.ReadOptions{Bounded: true}))
	got, err := srv.Log.Get(ctx, seqs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []events.Record{recs[0], got} {
		ev, err := rec.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if !ev.Time.Equal(rec.Time) || ev.Time.Before(before.Add(-time.Second)) || ev.Time.After(after.Add(time.Second)) {
			t.Fatalf("seq %d: time %v, want the stored time %v (between %v and %v)", rec.Seq, ev.Time, rec.Time, before, after)
		}
		if !ev.Claimed.Equal(claimed) {
			t.Fatalf("seq %d: claimed time %v, want %v", rec.Seq, ev.Claimed, claimed)
		}
	}
	ev, err := recs[1].Decode()
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Time.Equal(recs[1].Time) || ev.Claimed.Sub(ev.Time).Abs() > time.Second {
		t.Fatalf("honest event: time %v, claimed %v, stored %v", ev.Time, ev.Claimed, recs[1].Time)
	}
	// A record made by hand (no stored time) keeps the envelope's time.
	hand := events.Record{Seq: recs[0].Seq, Subject: recs[0].Subject, Data: recs[0].Data}
	if ev, err := hand.Decode(); err != nil || !ev.Time.Equal(claimed) {
		t.Fatalf("record without a stored time: %v, %v; want the envelope's %v", ev, err, claimed)
	}
}

// A bounded cursor ends only once it has read every matching event: replies
// slower than a fetch's wait (a loaded machine) delay it, never end it early.
func TestBoundedCursorOnASlowConnectionReadsToTheEnd(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	const n = 3000 // more than one fetch
	appendAll(t, ctx, srv.Log, podEvents(t, n, 50))
	nc, slow := srv.ConnectSlow(t)
	log, err := events.NewLog(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	slow.Set(1500 * time.Millisecond)
	for _, opts := range []events.ReadOptions{
		{Bounded: true},
		{From: n - 10, Bounded: true},
		{Subjects: []string{podEvents(t, 1, 1)[0].Object.Subject()}, Bounded: true},
	} {
		recs := readAll(t, ctx, read(t, ctx, log, opts))
		want := n - int(max(opts.From, 1)) + 1
		if opts.Subjects != nil {
			want = n / 50
		}
		if len(recs) != want {
			t.Fatalf("%+v: %d records, want %d", opts, len(recs), want)
		}
	}
	seq, err := log.SeqAt(ctx, time.Now().Add(-time.Hour))
	if err != nil || seq != 0 {
		t.Fatalf("sequence an hour ago: %d, %v; want 0", seq, err)
	}
}
