package reconcile

import (
	"encoding/json"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// Record is an object as a reactor's projection keeps it: its stored form
// (without the last applied manifest, which only apply merges with) and the
// event that last changed it, whose id and correlation become the cause and
// correlation of what the reactor decides from it.
type Record struct {
	Stored      json.RawMessage `json:"stored"`
	EventID     string          `json:"eventID"`
	Correlation string          `json:"correlation,omitempty"`
}

// ReadRecord reads the record of kind k at key: nil, nil, nil when there is none.
func ReadRecord(rd projections.Reader, k *object.Kind, key []byte) (*object.Stored, *Record, error) {
	raw, ok, err := rd.Get(key)
	if err != nil || !ok {
		return nil, nil, err
	}
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, nil, err
	}
	st, err := object.DecodeStored(k, rec.Stored)
	return st, &rec, err
}

// FoldRecord folds ev into the record of kind k at key and returns the object
// before and after it; next is nil when ev deleted it, and so is the record.
func FoldRecord(s projections.State, k *object.Kind, key []byte, ev *events.Event) (prev, next *object.Stored, err error) {
	if prev, _, err = ReadRecord(s, k, key); err != nil {
		return nil, nil, err
	}
	if next, err = object.Fold(prev, ev); err != nil {
		return nil, nil, err
	}
	if next == nil {
		return prev, nil, s.Delete(key)
	}
	next.LastApplied = nil
	stored, err := next.Encode()
	if err != nil {
		return nil, nil, err
	}
	data, err := json.Marshal(Record{Stored: stored, EventID: ev.ID, Correlation: ev.Correlation})
	if err != nil {
		return nil, nil, err
	}
	return prev, next, s.Set(key, data)
}
