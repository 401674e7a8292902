package deployment

import (
	"encoding/binary"
	"encoding/json"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
)

// The touch log is the projection's dirty set. Every event that can change what
// Decide returns for a Deployment records it under the event's sequence and
// drops its previous record, so the log holds at most one entry per Deployment
// and a round reads only those touched since the round before: its cost follows
// what changed, not the size of the cluster.
//
// Keys: t\x00<owner> -> sequence (8 bytes, big endian); c\x00<sequence><owner> -> "".
//
// Causes, of events this controller did not append itself (no payload):
// e\x00<owner> -> the newest of any kind; m\x00<owner> -> the newest that changed
// the Deployment's spec.

func touchKey(owner string) []byte     { return []byte("t\x00" + owner) }
func causeKey(owner string) []byte     { return []byte("e\x00" + owner) }
func specCauseKey(owner string) []byte { return []byte("m\x00" + owner) }

func changeKey(seq uint64, owner string) []byte {
	k := append([]byte("c\x00"), make([]byte, 8)...)
	binary.BigEndian.PutUint64(k[2:], seq)
	return append(k, owner...)
}

// touch records that ev touched owner; spec tells whether ev changed the
// Deployment's spec.
func touch(s projections.State, owner string, ev *events.Event, spec bool) error {
	if err := dropTouch(s, owner); err != nil {
		return err
	}
	seq := binary.BigEndian.AppendUint64(nil, ev.Seq)
	if err := s.Set(touchKey(owner), seq); err != nil {
		return err
	}
	if err := s.Set(changeKey(ev.Seq, owner), []byte{}); err != nil {
		return err
	}
	if ev.Actor == Actor {
		return nil
	}
	cause := *ev
	cause.Payload = nil
	data, err := json.Marshal(cause)
	if err != nil {
		return err
	}
	if spec {
		if err := s.Set(specCauseKey(owner), data); err != nil {
			return err
		}
	}
	return s.Set(causeKey(owner), data)
}

func dropTouch(s projections.State, owner string) error {
	prev, ok, err := s.Get(touchKey(owner))
	if err != nil || !ok || len(prev) != 8 {
		return err
	}
	return s.Delete(changeKey(binary.BigEndian.Uint64(prev), owner))
}

// forget removes every trace of owner from the touch log.
func forget(s projections.State, owner string) error {
	if err := dropTouch(s, owner); err != nil {
		return err
	}
	if err := s.Delete(touchKey(owner)); err != nil {
		return err
	}
	if err := s.Delete(specCauseKey(owner)); err != nil {
		return err
	}
	return s.Delete(causeKey(owner))
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

// causesOf returns the events that owner's next decision may react to.
func causesOf(rd projections.Reader, owner string) (cause, specCause events.Event, err error) {
	for _, c := range []struct {
		key []byte
		ev  *events.Event
	}{{causeKey(owner), &cause}, {specCauseKey(owner), &specCause}} {
		raw, ok, err := rd.Get(c.key)
		if err != nil {
			return cause, specCause, err
		}
		if ok {
			if err := json.Unmarshal(raw, c.ev); err != nil {
				return cause, specCause, err
			}
		}
	}
	return cause, specCause, nil
}
