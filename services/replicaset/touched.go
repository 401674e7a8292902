package replicaset

import (
	"encoding/json"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// The touch log is the projection's dirty set. Every event that can change what
// Decide returns for a ReplicaSet records it under the event's sequence and
// drops its previous record, so the log holds at most one entry per ReplicaSet
// and a round reads only those touched since the round before: its cost follows
// what changed, not the size of the cluster.
//
// Keys: those of reconcile.Touch (t\x00, c\x00).
//
// Causes, of events this controller did not append itself (no payload):
// m\x00<owner> -> the newest that changed the ReplicaSet's spec or which pods count
// toward it: the cause of pod creations and deletions; e\x00<owner> -> the newest
// of any kind: the cause of a status update.

func causeKey(owner string) []byte       { return []byte("m\x00" + owner) }
func statusCauseKey(owner string) []byte { return []byte("e\x00" + owner) }

// touch records that ev touched owner; counts tells whether ev changed the spec or
// which pods count.
func touch(s projections.State, owner string, ev *events.Event, counts bool) error {
	if err := reconcile.Touch(s, owner, ev.Seq); err != nil {
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
	if counts {
		if err := s.Set(causeKey(owner), data); err != nil {
			return err
		}
	}
	return s.Set(statusCauseKey(owner), data)
}

// forget removes every trace of owner from the touch log.
func forget(s projections.State, owner string) error {
	if err := reconcile.Forget(s, owner); err != nil {
		return err
	}
	if err := s.Delete(statusCauseKey(owner)); err != nil {
		return err
	}
	return s.Delete(causeKey(owner))
}

// causesOf returns the events that owner's next decisions react to.
func causesOf(rd projections.Reader, owner string) (cause, statusCause events.Event, err error) {
	for _, c := range []struct {
		key []byte
		ev  *events.Event
	}{{causeKey(owner), &cause}, {statusCauseKey(owner), &statusCause}} {
		raw, ok, err := rd.Get(c.key)
		if err != nil {
			return cause, statusCause, err
		}
		if ok {
			if err := json.Unmarshal(raw, c.ev); err != nil {
				return cause, statusCause, err
			}
		}
	}
	return cause, statusCause, nil
}
