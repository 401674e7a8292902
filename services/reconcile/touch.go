// Package reconcile is the loop every controller shares (Loop): rounds that read
// the controller's projection once and decide, with a pure function, for the owners
// its Mode names (those in the touch log since the round before, the owners of the
// refs each commit touched, or all), plus a slow full resync and the owners whose
// appends conflicted or failed; then guarded, pipelined appends of what was
// decided. The touch log, the owned-object kit (Owned) and NewAction live here too.
package reconcile

import (
	"encoding/binary"

	"github.com/wake-run/wake/projections"
)

// The touch log: every event that can change a decision records its owner under
// the event's sequence and drops the owner's previous record, so the log holds at
// most one entry per owner and a round reads only what changed since the last.
//
// Keys: t\x00<owner> -> sequence (8 bytes, big endian); c\x00<sequence><owner> -> "".
// Folds using the touch log must not use these two prefixes themselves.

func touchKey(owner string) []byte { return []byte("t\x00" + owner) }

func changeKey(seq uint64, owner string) []byte {
	k := append([]byte("c\x00"), make([]byte, 8)...)
	binary.BigEndian.PutUint64(k[2:], seq)
	return append(k, owner...)
}

// Touch records that the event at seq touched owner. It is pure over s.
func Touch(s projections.State, owner string, seq uint64) error {
	if err := dropTouch(s, owner); err != nil {
		return err
	}
	if err := s.Set(touchKey(owner), binary.BigEndian.AppendUint64(nil, seq)); err != nil {
		return err
	}
	return s.Set(changeKey(seq, owner), []byte{})
}

func dropTouch(s projections.State, owner string) error {
	prev, ok, err := s.Get(touchKey(owner))
	if err != nil || !ok || len(prev) != 8 {
		return err
	}
	return s.Delete(changeKey(binary.BigEndian.Uint64(prev), owner))
}

// Forget removes owner from the touch log.
func Forget(s projections.State, owner string) error {
	if err := dropTouch(s, owner); err != nil {
		return err
	}
	return s.Delete(touchKey(owner))
}

// TouchedSince returns the owners touched after sequence after, newest first.
func TouchedSince(rd projections.Reader, after uint64) ([]string, error) {
	var owners []string
	err := rd.Scan([]byte("c\x00"), true, func(k, _ []byte) bool {
		if len(k) < 10 || binary.BigEndian.Uint64(k[2:10]) <= after {
			return false
		}
		owners = append(owners, string(k[10:]))
		return true
	})
	return owners, err
}
