package projections

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// Key layout inside a projection's database: fold keys live under dataPrefix, the
// runner's own records under 0x00 (the checkpoint, the version, rejections), so a
// fold can never clobber a checkpoint.
var (
	dataPrefix    = []byte{0x01}
	keyCheckpoint = []byte("\x00checkpoint")
	keyVersion    = []byte("\x00version")
	rejectPrefix  = []byte("\x00reject\x00")
)

func dataKey(key []byte) []byte {
	k := make([]byte, 0, len(key)+1)
	k = append(k, dataPrefix...)
	return append(k, key...)
}

// batchState is the State over an indexed Pebble batch: reads see the batch's own
// writes on top of the database.
type batchState struct{ b *pebble.Batch }

func (s batchState) Get(key []byte) ([]byte, bool, error) {
	v, ok, err := get(s.b, dataKey(key))
	return v, ok, wrapStorage(err)
}
func (s batchState) Set(key, value []byte) error {
	return wrapStorage(s.b.Set(dataKey(key), value, nil))
}
func (s batchState) Delete(key []byte) error { return wrapStorage(s.b.Delete(dataKey(key), nil)) }
func (s batchState) DeletePrefix(prefix []byte) error {
	start := dataKey(prefix)
	return wrapStorage(s.b.DeleteRange(start, prefixEnd(start), nil))
}
func (s batchState) Scan(prefix []byte, reverse bool, fn func(k, v []byte) bool) error {
	return wrapStorage(scan(s.b, prefix, reverse, fn))
}

// wrapStorage marks Pebble failures so the runner stops instead of rejecting the event.
func wrapStorage(err error) error {
	if err == nil {
		return nil
	}
	return &storageError{err}
}

type getter interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

type iterable interface {
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// get copies the value out, so it stays valid after the closer is closed.
func get(g getter, key []byte) ([]byte, bool, error) {
	v, closer, err := g.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	if err := closer.Close(); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

func scan(it iterable, prefix []byte, reverse bool, fn func(k, v []byte) bool) error {
	lower := dataKey(prefix)
	iter, err := it.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return err
	}
	var ok bool
	if reverse {
		ok = iter.Last()
	} else {
		ok = iter.First()
	}
	for ; ok; ok = step(iter, reverse) {
		v, err := iter.ValueAndErr()
		if err != nil {
			iter.Close()
			return err
		}
		if !fn(iter.Key()[len(dataPrefix):], v) {
			break
		}
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	return nil
}

func step(iter *pebble.Iterator, reverse bool) bool {
	if reverse {
		return iter.Prev()
	}
	return iter.Next()
}

// snapshotReader is the Reader over a Pebble snapshot.
type snapshotReader struct{ s *pebble.Snapshot }

func (r snapshotReader) Get(key []byte) ([]byte, bool, error) { return get(r.s, dataKey(key)) }
func (r snapshotReader) Scan(prefix []byte, reverse bool, fn func(k, v []byte) bool) error {
	return scan(r.s, prefix, reverse, fn)
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
