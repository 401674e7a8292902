package gc

import (
	"encoding/binary"

	"github.com/wake-run/wake/projections"
)

// The touch log is the projection's dirty set. Every event that can change what
// Decide returns for a gone owner records the owner under the event's sequence
// and drops its previous record, so the log holds at most one entry per gone
// owner and a round reads only those touched since the round before: its cost
// follows what changed, not the size of the cluster.
//
// Keys: t\x00<owner uid> -> sequence (8 bytes, big endian); c\x00<sequence><owner uid> -> "".

func touchKey(owner string) []byte { return []byte("t\x00" + owner) }

func changeKey(seq uint64, owner string) []byte {
	k := append([]byte("c\x00"), make([]byte, 8)...)
	binary.BigEndian.PutUint64(k[2:], seq)
	return append(k, owner...)
}

// touch records that the event at seq touched owner.
func touch(s projections.State, owner string, seq uint64) error {
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

// forget removes owner from the touch log.
func forget(s projections.State, owner string) error {
	if err := dropTouch(s, owner); err != nil {
		return err
	}
	return s.Delete(touchKey(owner))
}

// touchedSince returns the owners touched after sequence after, newest first.
func touchedSince(rd projections.Reader, after uint64) ([]string, error) {
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
