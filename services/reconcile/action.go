package reconcile

import (
	"encoding/json"

	"github.com/wake-run/wake/events"
)

// NewAction is the guarded append of the event of type typ about ref that actor
// decided from version expected of ref's subject in reaction to cause (zero:
// none). Its id is events.DerivedID of those, so a retried decision appends
// nothing twice; it takes cause's time, which the log replaces when it stores it.
func NewAction(actor string, cause events.Event, typ string, ref events.Ref, expected uint64, reason string, payload any) Action {
	raw, _ := json.Marshal(payload)
	ev := &events.Event{
		ID:      events.DerivedID(actor, cause.ID, typ, ref, expected),
		Type:    typ,
		Object:  ref,
		Time:    cause.Time,
		Actor:   actor,
		Reason:  reason,
		Schema:  events.SchemaVersion,
		Payload: raw,
	}
	if cause.ID != "" {
		ev.CausedBy(&cause)
	}
	return Action{Event: ev, Expected: expected}
}
