package projections

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"
)

// SnapshotBucket is the JetStream object store bucket that holds snapshots.
const SnapshotBucket = "WAKE_SNAPSHOTS"

// DefaultSnapshotsKept is how many snapshots of each projection version a store
// keeps; beyond it, writing one thins the older ones (see prune).
const DefaultSnapshotsKept = 16

// SnapshotInfo names one snapshot: the projection's fold keys as of log sequence Seq.
type SnapshotInfo struct {
	Projection string    `json:"projection"`
	Version    int       `json:"version"`
	Seq        uint64    `json:"seq"`
	Keys       uint64    `json:"keys"`
	Size       uint64    `json:"size"` // compressed bytes
	Time       time.Time `json:"time"`
}

// ObjectName is the snapshot's object in SnapshotBucket:
// <projection>.v<fold version>.<sequence, 20 digits>.
func (i SnapshotInfo) ObjectName() string {
	return fmt.Sprintf("%s.v%d.%020d", i.Projection, i.Version, i.Seq)
}

// parseSnapshotName is the inverse of objectName.
func parseSnapshotName(name string) (SnapshotInfo, bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return SnapshotInfo{}, false
	}
	seq, err := strconv.ParseUint(name[i+1:], 10, 64)
	if err != nil {
		return SnapshotInfo{}, false
	}
	rest := name[:i]
	j := strings.LastIndex(rest, ".v")
	if j < 0 {
		return SnapshotInfo{}, false
	}
	v, err := strconv.Atoi(rest[j+2:])
	if err != nil {
		return SnapshotInfo{}, false
	}
	return SnapshotInfo{Projection: rest[:j], Version: v, Seq: seq}, true
}

// SnapshotStore keeps projection snapshots beside the stream of record, in a
// JetStream object store bucket, so a rebuild or a time-travel query starts from
// the nearest snapshot instead of sequence 1. A snapshot is immutable once written
// and is only used by the projection version that wrote it.
//
// Format: an S2 stream of records, each uvarint(len(key)) key uvarint(len(value))
// value, in key order.
type SnapshotStore struct {
	obs  jetstream.ObjectStore
	keep int
}

// OpenSnapshots creates or opens the snapshot bucket.
func OpenSnapshots(ctx context.Context, js jetstream.JetStream) (*SnapshotStore, error) {
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      SnapshotBucket,
		Description: "snapshots of wake's projections",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot bucket %s: %w", SnapshotBucket, err)
	}
	return &SnapshotStore{obs: obs, keep: DefaultSnapshotsKept}, nil
}

// List returns the snapshots of a projection version, oldest first.
func (s *SnapshotStore) List(ctx context.Context, projection string, version int) ([]SnapshotInfo, error) {
	infos, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []SnapshotInfo
	for _, oi := range infos {
		si, ok := parseSnapshotName(oi.Name)
		if !ok || si.Projection != projection || si.Version != version || oi.Deleted {
			continue
		}
		si.Size = oi.Size
		si.Time = oi.ModTime
		si.Keys, _ = strconv.ParseUint(oi.Metadata["keys"], 10, 64)
		out = append(out, si)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// Nearest returns the newest snapshot of the projection version at or before seq.
func (s *SnapshotStore) Nearest(ctx context.Context, projection string, version int, seq uint64) (SnapshotInfo, bool, error) {
	all, err := s.List(ctx, projection, version)
	if err != nil {
		return SnapshotInfo{}, false, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Seq <= seq {
			return all[i], true, nil
		}
	}
	return SnapshotInfo{}, false, nil
}

// write stores a snapshot whose records each() produces in key order, then
// deletes the oldest snapshots beyond the store's limit.
func (s *SnapshotStore) write(ctx context.Context, info SnapshotInfo, each func(fn func(k, v []byte) error) error) (SnapshotInfo, error) {
	pr, pw := io.Pipe()
	var keys uint64
	go func() {
		zw := s2.NewWriter(pw, s2.WriterConcurrency(1))
		var hdr [2 * binary.MaxVarintLen64]byte
		err := each(func(k, v []byte) error {
			n := binary.PutUvarint(hdr[:], uint64(len(k)))
			if _, err := zw.Write(hdr[:n]); err != nil {
				return err
			}
			if _, err := zw.Write(k); err != nil {
				return err
			}
			n = binary.PutUvarint(hdr[:], uint64(len(v)))
			if _, err := zw.Write(hdr[:n]); err != nil {
				return err
			}
			keys++
			_, err := zw.Write(v)
			return err
		})
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	// The key count is known only at the end; it goes in the metadata of the
	// finished object through a second, cheap update.
	name := info.ObjectName()
	oi, err := s.obs.Put(ctx, jetstream.ObjectMeta{Name: name + ".partial"}, pr)
	pr.CloseWithError(err)
	if err != nil {
		return info, fmt.Errorf("write snapshot %s: %w", name, err)
	}
	info.Keys, info.Size, info.Time = keys, oi.Size, oi.ModTime
	meta := jetstream.ObjectMeta{Name: name, Metadata: map[string]string{
		"keys": strconv.FormatUint(keys, 10), "seq": strconv.FormatUint(info.Seq, 10)}}
	if err := s.obs.UpdateMeta(ctx, name+".partial", meta); err != nil {
		_ = s.obs.Delete(ctx, name+".partial")
		if errors.Is(err, jetstream.ErrObjectAlreadyExists) {
			// Another writer (a background snapshot, another server) wrote the
			// same sequence first: snapshots of one sequence are identical.
			return info, nil
		}
		return info, fmt.Errorf("name snapshot %s: %w", name, err)
	}
	s.prune(ctx, info.Projection, info.Version)
	return info, nil
}

// Keep sets how many snapshots of each projection version the store keeps (at
// least 2).
func (s *SnapshotStore) Keep(n int) { s.keep = max(n, 2) }

// prune thins the snapshots beyond the limit so that those kept stay spread over
// the whole log: the oldest and the newest always stay, and each deletion is the
// snapshot whose neighbours are closest, so a time-travel query to any moment
// finds one near it. Failures only leave extra snapshots behind.
func (s *SnapshotStore) prune(ctx context.Context, projection string, version int) {
	all, err := s.List(ctx, projection, version)
	if err != nil {
		return
	}
	for len(all) > s.keep {
		drop := 1
		for i := 2; i < len(all)-1; i++ {
			if all[i+1].Seq-all[i-1].Seq < all[drop+1].Seq-all[drop-1].Seq {
				drop = i
			}
		}
		_ = s.obs.Delete(ctx, all[drop].ObjectName())
		all = append(all[:drop], all[drop+1:]...)
	}
}

// read calls fn for every record of a snapshot, in key order. Key and value are
// valid only during fn.
func (s *SnapshotStore) read(ctx context.Context, info SnapshotInfo, fn func(k, v []byte) error) error {
	res, err := s.obs.Get(ctx, info.ObjectName())
	if err != nil {
		return fmt.Errorf("read snapshot %s: %w", info.ObjectName(), err)
	}
	defer res.Close()
	br := bufio.NewReaderSize(s2.NewReader(res), 256<<10)
	var buf []byte
	readField := func() ([]byte, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if n > 1<<30 {
			return nil, fmt.Errorf("record of %d bytes", n)
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		b := buf[:n]
		_, err = io.ReadFull(br, b)
		return b, err
	}
	for {
		k, err := readField()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read snapshot %s: %w", info.ObjectName(), err)
		}
		k = append([]byte(nil), k...)
		v, err := readField()
		if err != nil {
			return fmt.Errorf("read snapshot %s: truncated record: %w", info.ObjectName(), err)
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
}
