package projections

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// snapshotting is the runner's snapshot policy and state.
type snapshotting struct {
	store *SnapshotStore
	every uint64 // take one after this many sequences past the last; 0: only on request

	mu      sync.Mutex
	writing sync.Mutex // one snapshot at a time: background and on request
	last    uint64     // sequence of the newest snapshot taken or restored
	running bool
	wg      sync.WaitGroup
}

// WithSnapshots lets the runner restore from the store's nearest snapshot when it
// starts empty or is rebuilt, and take a snapshot in the background whenever its
// checkpoint has moved every sequences past the last one (0: only on request, see
// Runner.Snapshot).
func WithSnapshots(store *SnapshotStore, every uint64) Option {
	return func(r *Runner) { r.snap = &snapshotting{store: store, every: every} }
}

// ErrNoSnapshots is returned by Snapshot for a runner without a snapshot store.
var ErrNoSnapshots = errors.New("projection has no snapshot store")

// Snapshot writes the projection's fold keys as of its current checkpoint to the
// snapshot store. Readers and the fold go on meanwhile: the snapshot reads a
// consistent Pebble snapshot. A snapshot at a sequence that already has one is
// not written again.
func (r *Runner) Snapshot(ctx context.Context) (SnapshotInfo, error) {
	if r.snap == nil {
		return SnapshotInfo{}, ErrNoSnapshots
	}
	r.snap.writing.Lock()
	defer r.snap.writing.Unlock()
	r.mu.RLock()
	defer r.mu.RUnlock()
	ps := r.db.NewSnapshot()
	defer ps.Close()
	cp, _, err := readUint(ps, keyCheckpoint)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("projection %s: snapshot: %w", r.p.Name, err)
	}
	info := SnapshotInfo{Projection: r.p.Name, Version: r.p.Version, Seq: cp}
	if cp == 0 {
		return info, fmt.Errorf("projection %s: nothing to snapshot yet", r.p.Name)
	}
	if near, ok, err := r.snap.store.Nearest(ctx, r.p.Name, r.p.Version, cp); err == nil && ok && near.Seq == cp {
		return near, nil
	}
	info, err = r.snap.store.write(ctx, info, func(fn func(k, v []byte) error) error {
		iter, err := ps.NewIter(&pebble.IterOptions{LowerBound: dataPrefix, UpperBound: prefixEnd(dataPrefix)})
		if err != nil {
			return err
		}
		for ok := iter.First(); ok; ok = iter.Next() {
			v, err := iter.ValueAndErr()
			if err == nil {
				err = fn(iter.Key()[len(dataPrefix):], v)
			}
			if err != nil {
				iter.Close()
				return err
			}
		}
		return iter.Close()
	})
	if err != nil {
		return info, err
	}
	r.snap.mu.Lock()
	r.snap.last = max(r.snap.last, cp)
	r.snap.mu.Unlock()
	return info, nil
}

// maybeSnapshot starts a background snapshot when the checkpoint has moved far
// enough past the last one and none is running.
func (r *Runner) maybeSnapshot(checkpoint uint64) {
	sn := r.snap
	if sn == nil || sn.every == 0 {
		return
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if sn.running || checkpoint < sn.last+sn.every {
		return
	}
	sn.running = true
	sn.wg.Add(1)
	go func() {
		defer sn.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), snapshotTimeout)
		defer cancel()
		if _, err := r.Snapshot(ctx); err != nil {
			r.logger.Warn("snapshot failed", "projection", r.p.Name, "err", err)
		}
		sn.mu.Lock()
		sn.running = false
		// Without a new snapshot, wait another interval before trying again.
		sn.last = max(sn.last, checkpoint)
		sn.mu.Unlock()
		// The fold may have moved on by another interval meanwhile, with no
		// commit left to notice.
		r.maybeSnapshot(r.checkpoint.Load())
	}()
}

// waitSnapshots waits for a background snapshot in flight.
func (r *Runner) waitSnapshots() {
	if r.snap != nil {
		r.snap.wg.Wait()
	}
}

// restore loads the newest snapshot at or before the log's last sequence into an
// empty database. It reports the snapshot's sequence, 0 when none was used.
func (r *Runner) restore(ctx context.Context) (uint64, error) {
	if r.snap == nil || r.checkpoint.Load() != 0 {
		return 0, nil
	}
	last, err := r.log.LastSeq(ctx)
	if err != nil {
		return 0, err
	}
	info, ok, err := r.snap.store.Nearest(ctx, r.p.Name, r.p.Version, last)
	if err != nil || !ok {
		return 0, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if err := loadSnapshot(ctx, r.snap.store, info, r.db, vfs.Default, filepath.Join(r.dir, "restore.sst")); err != nil {
		// Leave the database empty: folding from sequence 1 is always correct.
		if werr := r.db.DeleteRange(dataPrefix, prefixEnd(dataPrefix), pebble.Sync); werr != nil {
			return 0, &storageError{werr}
		}
		r.logger.Warn("snapshot unusable, folding from the start of the log", "projection", r.p.Name, "snapshot", info.Seq, "err", err)
		return 0, nil
	}
	r.checkpoint.Store(info.Seq)
	r.restoredFrom.Store(info.Seq)
	r.snap.mu.Lock()
	r.snap.last = max(r.snap.last, info.Seq)
	r.snap.mu.Unlock()
	r.wake()
	return info.Seq, nil
}

// loadSnapshot writes a snapshot's keys, and its checkpoint, into db: as one
// sstable that db ingests (the snapshot is in key order), written first to
// path on fs, db's own file system. Ingesting costs a fraction of writing the
// keys through batches.
func loadSnapshot(ctx context.Context, store *SnapshotStore, info SnapshotInfo, db *pebble.DB, fs vfs.FS, path string) error {
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	defer func() { _ = fs.Remove(path) }()
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{TableFormat: db.TableFormat()})
	// The checkpoint sorts before every fold key (0x00 < dataPrefix).
	if err := w.Set(keyCheckpoint, []byte(strconv.FormatUint(info.Seq, 10))); err != nil {
		_ = w.Close()
		return err
	}
	var key []byte
	err = store.read(ctx, info, func(k, v []byte) error {
		key = append(append(key[:0], dataPrefix...), k...)
		return w.Set(key, v)
	})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return db.Ingest(ctx, []string{path})
}
