package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func podRef(name string) events.Ref { return events.Ref{Kind: "pod", Namespace: "default", Name: name} }

func lastSeq(t *testing.T, ctx context.Context, log *events.Log) uint64 {
	t.Helper()
	seq, err := log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func subjectVersion(t *testing.T, ctx context.Context, log *events.Log, ref events.Ref) uint64 {
	t.Helper()
	v, err := log.SubjectVersion(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAppendGuardsTheSubjectVersion(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	ref := podRef("web")

	if v := subjectVersion(t, ctx, srv.Log, ref); v != 0 {
		t.Fatalf("empty subject has version %d", v)
	}
	first, err := srv.Log.Append(ctx, mustNew(t, "pod.created", ref, nil), 0)
	if err != nil {
		t.Fatalf("append to an empty subject expecting 0: %v", err)
	}
	if first != 1 || lastSeq(t, ctx, srv.Log) != first || subjectVersion(t, ctx, srv.Log, ref) != first {
		t.Fatalf("append returned %d; stream last %d", first, lastSeq(t, ctx, srv.Log))
	}

	_, err = srv.Log.Append(ctx, mustNew(t, "pod.created", ref, nil), 0)
	if !errors.Is(err, events.ErrConflict) {
		t.Fatalf("second append expecting an empty subject: %v, want ErrConflict", err)
	}
	var ce *events.ConflictError
	if !errors.As(err, &ce) || ce.Object != ref || ce.Expected != 0 {
		t.Fatalf("conflict error %#v does not name the object and expected version", err)
	}
	if got := lastSeq(t, ctx, srv.Log); got != first {
		t.Fatalf("a refused append stored something: last seq %d, want %d", got, first)
	}

	// Another subject is not affected by this one's version.
	if _, err := srv.Log.Append(ctx, mustNew(t, "pod.created", podRef("api"), nil), 0); err != nil {
		t.Fatal(err)
	}
	second, err := srv.Log.Append(ctx, mustNew(t, "pod.updated", ref, nil), first)
	if err != nil {
		t.Fatalf("append with the right version: %v", err)
	}
	if second != 3 || subjectVersion(t, ctx, srv.Log, ref) != second {
		t.Fatalf("append returned %d, subject version %d", second, subjectVersion(t, ctx, srv.Log, ref))
	}
	for _, stale := range []uint64{first, second + 10} {
		if _, err := srv.Log.Append(ctx, mustNew(t, "pod.updated", ref, nil), stale); !errors.Is(err, events.ErrConflict) {
			t.Fatalf("append expecting version %d (current %d): %v, want ErrConflict", stale, second, err)
		}
	}
	if got := lastSeq(t, ctx, srv.Log); got != second {
		t.Fatalf("stale appends stored something: last seq %d, want %d", got, second)
	}
}

func TestAppendRefusesIncompleteEvents(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	for _, ev := range []*events.Event{
		{Type: "pod.created", Object: podRef("a"), Schema: 1},
		{ID: "x", Object: podRef("a"), Schema: 1},
		{ID: "x", Type: "pod.created", Object: podRef("a")},
	} {
		if _, err := srv.Log.Append(ctx, ev, 0); err == nil || errors.Is(err, events.ErrConflict) {
			t.Fatalf("Append(%+v) = %v, want a validation error", ev, err)
		}
	}
	if got := lastSeq(t, ctx, srv.Log); got != 0 {
		t.Fatalf("incomplete events were stored: last seq %d", got)
	}
}

// A writer whose acknowledgement was lost retries the same event with the same
// expected version; Append promises one stored copy and the first sequence, also
// when another writer has appended to the subject in between, and a Pipeline
// applies "the same guards and ids".
func TestAppendSameEventTwiceStoresOnce(t *testing.T) {
	cases := []struct {
		name     string
		between  bool // another writer appends to the subject before the retry
		pipeline bool // the retry goes through a Pipeline
	}{
		{"retry", false, false},
		{"retry after another writer", true, false},
		{"pipelined retry", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := eventstest.Start(t)
			ctx := testContext(t)
			ref := podRef("web")
			ev := mustNew(t, "pod.created", ref, nil)
			first, err := srv.Log.Append(ctx, ev, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := first
			if tc.between {
				if want, err = srv.Log.Append(ctx, mustNew(t, "pod.updated", ref, nil), first); err != nil {
					t.Fatal(err)
				}
			}
			var again uint64
			if tc.pipeline {
				p := srv.Log.Pipeline()
				if err := p.Append(ev, 0); err != nil {
					t.Fatal(err)
				}
				results, werr := p.Wait(ctx)
				if werr != nil {
					t.Fatal(werr)
				}
				again, err = results[0].Seq, results[0].Err
			} else {
				again, err = srv.Log.Append(ctx, ev, 0)
			}
			if err != nil || again != first {
				t.Errorf("retrying the same event: seq %d, err %v; want seq %d and no error", again, err, first)
			}
			if got := lastSeq(t, ctx, srv.Log); got != want {
				t.Fatalf("the retried event was stored twice: last seq %d, want %d", got, want)
			}
		})
	}
}

func TestEnsureIsIdempotentAndTheLogAppendOnly(t *testing.T) {
	srv := eventstest.Start(t) // has called Ensure once
	ctx := testContext(t)
	for range 2 {
		if err := srv.Log.Ensure(ctx, events.StreamConfig{}); err != nil {
			t.Fatalf("Ensure again: %v", err)
		}
	}
	seq, err := srv.Log.Append(ctx, mustNew(t, "pod.created", podRef("web"), nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := srv.Log.JetStream().Stream(ctx, events.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	if !cfg.DenyDelete || !cfg.DenyPurge || cfg.Storage != jetstream.FileStorage || len(cfg.Subjects) != 1 || cfg.Subjects[0] != events.AllSubjects {
		t.Fatalf("stream config %+v", cfg)
	}
	if err := stream.Purge(ctx); err == nil {
		t.Error("Purge succeeded on the stream of record")
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(podRef("web").Subject())); err == nil {
		t.Error("Purge of one subject succeeded on the stream of record")
	}
	if err := stream.DeleteMsg(ctx, seq); err == nil {
		t.Error("DeleteMsg succeeded on the stream of record")
	}
	if err := stream.SecureDeleteMsg(ctx, seq); err == nil {
		t.Error("SecureDeleteMsg succeeded on the stream of record")
	}
	if _, err := stream.GetMsg(ctx, seq); err != nil {
		t.Fatalf("the event is gone: %v", err)
	}
	if got := lastSeq(t, ctx, srv.Log); got != seq {
		t.Fatalf("last seq %d, want %d", got, seq)
	}
}

func TestPipelineAppendsInOrder(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	const subjects, perSubject = 10, 100
	p := srv.Log.Pipeline()
	version := map[string]uint64{}
	var sent []*events.Event
	// A single writer's appends are stored in the order sent, so the writer can
	// chain guards on one subject inside one window.
	for i := range subjects * perSubject {
		ref := podRef(fmt.Sprintf("p%d", i%subjects))
		ev := mustNew(t, "pod.updated", ref, map[string]int{"i": i})
		if err := p.Append(ev, version[ref.Name]); err != nil {
			t.Fatal(err)
		}
		version[ref.Name] = uint64(i + 1)
		sent = append(sent, ev)
	}
	if p.Len() != len(sent) {
		t.Fatalf("Len() = %d, want %d", p.Len(), len(sent))
	}
	results, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(sent) || p.Len() != 0 {
		t.Fatalf("%d results, %d still pending; want %d and 0", len(results), p.Len(), len(sent))
	}
	for i, r := range results {
		if r.Err != nil || r.Event != sent[i] || r.Seq != uint64(i+1) {
			t.Fatalf("result %d: seq %d err %v (event %p, want %p)", i, r.Seq, r.Err, r.Event, sent[i])
		}
	}

	// Per-event conflicts: even appends name the right version, odd ones a stale one.
	base := lastSeq(t, ctx, srv.Log)
	for i := range subjects {
		ref := podRef(fmt.Sprintf("p%d", i))
		expected := version[ref.Name]
		if i%2 == 1 {
			expected--
		}
		if err := p.Append(mustNew(t, "pod.updated", ref, nil), expected); err != nil {
			t.Fatal(err)
		}
	}
	results, err = p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := base
	for i, r := range results {
		if i%2 == 1 {
			if !errors.Is(r.Err, events.ErrConflict) || r.Seq != 0 {
				t.Errorf("stale pipelined append %d: seq %d err %v, want ErrConflict", i, r.Seq, r.Err)
			}
			continue
		}
		next++
		if r.Err != nil || r.Seq != next {
			t.Errorf("pipelined append %d: seq %d err %v, want seq %d", i, r.Seq, r.Err, next)
		}
	}
	if got := lastSeq(t, ctx, srv.Log); got != base+subjects/2 {
		t.Fatalf("last seq %d, want %d", got, base+subjects/2)
	}
}

type counter struct {
	N    int    `json:"n"`
	Prev uint64 `json:"prev"`
}

// Eight writers increment one counter by read-version / append / retry on conflict.
// Every increment must survive, each naming the version it was decided from.
func TestConcurrentWritersLoseNoUpdate(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	const writers, increments = 8, 50
	ref := events.Ref{Kind: "counter", Name: "c"}
	stream, err := srv.Log.JetStream().Stream(ctx, events.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	increment := func() error {
		for {
			var cur counter
			var version uint64
			msg, err := stream.GetLastMsgForSubject(ctx, ref.Subject())
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
			case err != nil:
				return err
			default:
				ev, err := events.Decode(msg.Data, msg.Sequence, msg.Subject)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(ev.Payload, &cur); err != nil {
					return err
				}
				version = msg.Sequence
			}
			ev, err := events.New("counter.incremented", ref, "writer", counter{N: cur.N + 1, Prev: version})
			if err != nil {
				return err
			}
			_, err = srv.Log.Append(ctx, ev, version)
			if errors.Is(err, events.ErrConflict) {
				continue
			}
			return err
		}
	}
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range increments {
				if err := increment(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	cur, err := srv.Log.Read(ctx, events.ReadOptions{Subjects: []string{ref.Subject()}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	recs := readAll(t, ctx, cur)
	if len(recs) != writers*increments {
		t.Fatalf("%d events on the counter, want %d", len(recs), writers*increments)
	}
	var prev uint64
	for i, rec := range recs {
		ev, err := rec.Decode()
		if err != nil {
			t.Fatal(err)
		}
		var c counter
		if err := json.Unmarshal(ev.Payload, &c); err != nil {
			t.Fatal(err)
		}
		if c.N != i+1 || c.Prev != prev {
			t.Fatalf("event %d (seq %d): count %d after version %d; want count %d after version %d", i, rec.Seq, c.N, c.Prev, i+1, prev)
		}
		prev = rec.Seq
	}
}
