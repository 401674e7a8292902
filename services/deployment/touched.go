package deployment

import (
	"encoding/json"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// The touch log is the projection's dirty set. Every event that can change what
// Decide returns for a Deployment records it under the event's sequence and
// drops its previous record, so the log holds at most one entry per Deployment
// and a round reads only those touched since the round before: its cost follows
// what changed, not the size of the cluster.
//
// Keys: those of reconcile.Touch (t\x00, c\x00).
//
// Causes, of events this controller did not append itself (no payload):
// e\x00<owner> -> the newest of any kind; m\x00<owner> -> the newest that changed
// the Deployment's spec.

func causeKey(owner string) []byte     { return []byte("e\x00" + owner) }
func specCauseKey(owner string) []byte { return []byte("m\x00" + owner) }

// touch records that ev touched owner; spec tells whether ev changed the
// Deployment's spec.
func touch(s projections.State, owner string, ev *events.Event, spec bool) error {
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
	if spec {
		if err := s.Set(specCauseKey(owner), data); err != nil {
			return err
		}
	}
	return s.Set(causeKey(owner), data)
}

// forget removes every trace of owner from the touch log.
func forget(s projections.State, owner string) error {
	if err := reconcile.Forget(s, owner); err != nil {
		return err
	}
	if err := s.Delete(specCauseKey(owner)); err != nil {
		return err
	}
	return s.Delete(causeKey(owner))
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
