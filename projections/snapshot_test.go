package projections_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/projections"
)

// A snapshot holds exactly the fold's keys at its checkpoint; a rebuild and a
// fresh directory start from it and reach the same bytes as folding from sequence 1,
// folding only the events after it.
func TestSnapshotRestoreIsByteIdentical(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	store, err := projections.OpenSnapshots(ctx, srv.Log.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := newEvents(t, 200, 9, 17, 150)
	seqs := appendEvents(t, ctx, srv.Log, first)
	mid := seqs[len(seqs)-1]
	rn := start(t, dir, srv.Log, countProjection(), projections.WithSnapshots(store, 0), projections.WithBatchSize(64))
	rn.waitFor(t, mid)
	atMid, _ := dump(t, rn.Runner)
	info, err := rn.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Seq != mid || info.Keys != uint64(len(atMid)) || info.Size == 0 {
		t.Fatalf("snapshot %+v, want seq %d with %d keys", info, mid, len(atMid))
	}
	again, err := rn.Snapshot(ctx)
	if err != nil || again.Seq != mid {
		t.Fatalf("second snapshot at the same checkpoint: %+v, %v", again, err)
	}
	if all, err := store.List(ctx, "count", 1); err != nil || len(all) != 1 {
		t.Fatalf("snapshots listed: %+v, %v; want exactly one", all, err)
	}

	more := newEvents(t, 50, 9)
	seqs = appendEvents(t, ctx, srv.Log, more)
	last := seqs[len(seqs)-1]
	rn.waitFor(t, last)
	want, _ := dump(t, rn.Runner)
	sameDump(t, "live", want, model(t, countFold, append(first, more...)))

	if err := rn.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	rn.waitFor(t, last)
	got, cp := dump(t, rn.Runner)
	sameDump(t, "rebuilt from the snapshot", got, want)
	if st := rn.Status(); cp != last || st.Folded != uint64(len(more)) {
		t.Fatalf("rebuilt: checkpoint %d folded %d; want %d and only the %d events after the snapshot", cp, st.Folded, last, len(more))
	}

	if err := rn.RebuildFromLog(ctx); err != nil {
		t.Fatal(err)
	}
	rn.waitFor(t, last)
	got, _ = dump(t, rn.Runner)
	sameDump(t, "rebuilt from the log", got, want)
	if st := rn.Status(); st.Folded != uint64(len(first)+len(more)-2) {
		t.Fatalf("rebuilt from the log folded %d events, want %d", st.Folded, len(first)+len(more)-2)
	}

	rn.stop(t)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	rn = start(t, dir, srv.Log, countProjection(), projections.WithSnapshots(store, 0))
	rn.waitFor(t, last)
	got, _ = dump(t, rn.Runner)
	sameDump(t, "an empty directory restored from the snapshot", got, want)
	if st := rn.Status(); st.Folded != uint64(len(more)) {
		t.Fatalf("restored directory folded %d events, want %d", st.Folded, len(more))
	}

	// A snapshot of another fold version is never used.
	other := countProjection()
	other.Version = 2
	rn.stop(t)
	rn = start(t, t.TempDir(), srv.Log, other, projections.WithSnapshots(store, 0))
	rn.waitFor(t, last)
	if st := rn.Status(); st.Folded != uint64(len(first)+len(more)-2) {
		t.Fatalf("version 2 folded %d events, want all %d: it must not use version 1's snapshot", st.Folded, len(first)+len(more)-2)
	}
}

// The runner snapshots by itself every N sequences, and the store keeps a bounded
// number.
func TestAutomaticSnapshots(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	store, err := projections.OpenSnapshots(ctx, srv.Log.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	rn := start(t, t.TempDir(), srv.Log, countProjection(), projections.WithSnapshots(store, 40), projections.WithBatchSize(10))
	var last uint64
	for range 6 {
		seqs := appendEvents(t, ctx, srv.Log, newEvents(t, 30, 5))
		last = seqs[len(seqs)-1]
		rn.waitFor(t, last)
	}
	// Snapshots are written in the background: one taken while the fold ran
	// on is followed by the next as soon as it ends.
	var all []projections.SnapshotInfo
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if all, err = store.List(ctx, "count", 1); err != nil {
			t.Fatal(err)
		}
		if len(all) >= 2 && all[len(all)-1].Seq+40 > last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d snapshots after %d events with one every 40: %+v", len(all), last, all)
		}
	}
	rn.stop(t) // waits for a snapshot in flight
	for i := 1; i < len(all); i++ {
		if all[i].Seq < all[i-1].Seq+40 {
			t.Fatalf("snapshots %d and %d are closer than 40 sequences", all[i-1].Seq, all[i].Seq)
		}
	}
}

// BuildAt gives the state at any past sequence, with or without snapshots, equal
// to folding the log up to it.
func TestBuildAtPastSequences(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	store, err := projections.OpenSnapshots(ctx, srv.Log.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	evs := newEvents(t, 120, 7, 3, 60)
	seqs := appendEvents(t, ctx, srv.Log, evs)
	rn := start(t, t.TempDir(), srv.Log, countProjection(), projections.WithBatchSize(16))
	rn.waitFor(t, seqs[59])
	// Snapshot at event 60 (the runner is stopped there and restarted).
	rn.stop(t)
	rn = start(t, t.TempDir(), srv.Log, countProjection(), projections.WithSnapshots(store, 0))
	rn.waitFor(t, seqs[len(seqs)-1])
	if _, err := rn.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 10, 59, 60, 61, 100, 119} {
		want := model(t, countFold, evs[:i+1])
		for _, s := range []*projections.SnapshotStore{nil, store} {
			sc, err := projections.BuildAt(ctx, srv.Log, countProjection(), s, seqs[i])
			if err != nil {
				t.Fatal(err)
			}
			var got [][2]string
			_ = sc.Reader().Scan(nil, false, func(k, v []byte) bool {
				got = append(got, [2]string{string(k), string(v)})
				return true
			})
			sameDump(t, "state at event "+string(rune('0'+i%10)), got, want)
			if s == nil && sc.Snapshot != 0 {
				t.Fatalf("without a store the build started from snapshot %d", sc.Snapshot)
			}
			if s != nil && i == 119 && (sc.Snapshot != seqs[119] || sc.Folded != 0) {
				t.Fatalf("at the snapshot's sequence: started at %d and folded %d", sc.Snapshot, sc.Folded)
			}
			_ = sc.Close()
		}
	}
}

// Beyond its limit the store thins snapshots evenly, keeping the oldest and the
// newest, so every stretch of the log stays near one.
func TestSnapshotsThinEvenly(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	store, err := projections.OpenSnapshots(ctx, srv.Log.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	store.Keep(4)
	rn := start(t, t.TempDir(), srv.Log, countProjection(), projections.WithSnapshots(store, 0))
	var taken []uint64
	for range 9 {
		seqs := appendEvents(t, ctx, srv.Log, newEvents(t, 10, 3))
		rn.waitFor(t, seqs[len(seqs)-1])
		info, err := rn.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, info.Seq)
	}
	all, err := store.List(ctx, "count", 1)
	if err != nil {
		t.Fatal(err)
	}
	var kept []uint64
	for _, si := range all {
		kept = append(kept, si.Seq)
	}
	if len(kept) != 4 || kept[0] != taken[0] || kept[3] != taken[8] {
		t.Fatalf("kept %v of %v, want 4 including the oldest and the newest", kept, taken)
	}
	for i := 1; i < len(kept); i++ {
		if gap := kept[i] - kept[i-1]; gap > 40 {
			t.Errorf("kept %v: a gap of %d sequences where 30 would do", kept, gap)
		}
	}
}

// A state built while the log's replies are slower than a fetch's wait (a loaded
// machine) is the whole state at its sequence, never an early end of the log's
// read taken for the end of the log.
func TestBuildAtOnASlowConnection(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	evs := newEvents(t, 60, 7, 3)
	seqs := appendEvents(t, ctx, srv.Log, evs)
	nc, slow := srv.ConnectSlow(t)
	log, err := events.NewLog(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	slow.Set(1500 * time.Millisecond)
	for _, i := range []int{0, 41} {
		sc, err := projections.BuildAt(ctx, log, countProjection(), nil, seqs[i])
		if err != nil {
			t.Fatal(err)
		}
		var got [][2]string
		_ = sc.Reader().Scan(nil, false, func(k, v []byte) bool {
			got = append(got, [2]string{string(k), string(v)})
			return true
		})
		_ = sc.Close()
		sameDump(t, fmt.Sprintf("state at event %d", i), got, model(t, countFold, evs[:i+1]))
		if sc.Folded != i+1 {
			t.Fatalf("state at event %d folded %d events, want %d", i, sc.Folded, i+1)
		}
	}
}
