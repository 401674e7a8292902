package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/wake-run/wake/events"
)

// Scratch is a projection as of a past moment, built in memory for time-travel
// queries. It is read-only once built and safe for concurrent readers; Close frees
// it.
type Scratch struct {
	db *pebble.DB
	fs vfs.FS
	// Seq is the log sequence the state reflects.
	Seq uint64
	// Snapshot is the sequence of the snapshot it started from (0: the start of
	// the log); Folded counts the events folded after it.
	Snapshot uint64
	Folded   int
}

// BuildAt folds projection p as of log sequence seq into a fresh in-memory
// database: from the newest snapshot in store at or before seq (store may be nil),
// then every event up to seq. Events the fold rejects are skipped, as the runner
// skips them.
func BuildAt(ctx context.Context, log *events.Log, p Projection, store *SnapshotStore, seq uint64) (*Scratch, error) {
	fs := vfs.NewMem()
	db, err := pebble.Open("", &pebble.Options{FS: fs, Logger: quietLogger{}, MemTableSize: 32 << 20})
	if err != nil {
		return nil, fmt.Errorf("projection %s at %d: %w", p.Name, seq, err)
	}
	sc := &Scratch{db: db, fs: fs, Seq: seq}
	if err := sc.build(ctx, log, p, store); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("projection %s at %d: %w", p.Name, seq, err)
	}
	return sc, nil
}

func (sc *Scratch) build(ctx context.Context, log *events.Log, p Projection, store *SnapshotStore) error {
	if store != nil {
		info, ok, err := store.Nearest(ctx, p.Name, p.Version, sc.Seq)
		if err != nil {
			return err
		}
		if ok {
			if err := loadSnapshot(ctx, store, info, sc.db, sc.fs, "restore.sst"); err != nil {
				return err
			}
			sc.Snapshot = info.Seq
		}
	}
	if sc.Snapshot >= sc.Seq {
		return nil
	}
	// A runner over the scratch database, never started: its batches give the
	// exact fold, rejection and refold semantics of the live projection.
	r := &Runner{p: p, db: sc.db, log: log, logger: slog.New(slog.DiscardHandler), batchMax: 1000, notify: make(chan struct{})}
	cur, err := log.Read(ctx, events.ReadOptions{From: sc.Snapshot + 1, Subjects: p.Subjects, Bounded: true})
	if err != nil {
		return err
	}
	defer cur.Close()
	pf := r.prefetch(ctx, cur)
	defer pf.stop() // before the cursor closes
	b := newBatch(r)
	defer b.close()
	for {
		d, err := pf.next(ctx, false)
		if errors.Is(err, io.EOF) || (err == nil && d.rec.Seq > sc.Seq) {
			break
		}
		if err != nil {
			return err
		}
		if err := b.add(d); err != nil {
			return err
		}
		sc.Folded++
		if len(b.recs) >= r.batchMax {
			if err := b.commit(); err != nil {
				return err
			}
		}
	}
	return b.commit()
}

// Reader returns a reader of the state.
func (sc *Scratch) Reader() Reader { return dbReader{sc.db} }

// Close frees the state.
func (sc *Scratch) Close() error { return sc.db.Close() }

type dbReader struct{ db *pebble.DB }

func (r dbReader) Get(key []byte) ([]byte, bool, error) { return get(r.db, dataKey(key)) }
func (r dbReader) Scan(prefix []byte, reverse bool, fn func(k, v []byte) bool) error {
	return scan(r.db, prefix, reverse, fn)
}
