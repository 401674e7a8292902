package scheduler

import (
	"encoding/json"
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// Projection is the scheduler's read model: every Node, Pod, claim, volume and
// StorageClass, with the
// event that last changed each (the cause of what the scheduler appends about it).
//
// Keys: o\x00<kind>\x00<namespace>\x00<name> -> record.
func Projection() projections.Projection {
	return projections.Projection{
		Name: "scheduler", Version: 2, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{events.KindSubjects("Node", "", true), events.KindSubjects("Pod", "", false),
			events.KindSubjects("PersistentVolumeClaim", "", false), events.KindSubjects("PersistentVolume", "", true),
			events.KindSubjects("StorageClass", "", true)},
	}
}

// record is a stored object and the last event about it.
type record struct {
	Stored      json.RawMessage `json:"stored"`
	EventID     string          `json:"eventID"`
	Correlation string          `json:"correlation,omitempty"`
}

func recordKey(kind, namespace, name string) []byte {
	return []byte("o\x00" + kind + "\x00" + namespace + "\x00" + name)
}

var folded = map[string]bool{"Node": true, "Pod": true, "PersistentVolumeClaim": true, "PersistentVolume": true, "StorageClass": true}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if !ok || !folded[k.Kind] {
		return fmt.Errorf("%w: the scheduler folds nodes, pods and storage, not %q", object.ErrFold, ev.Object.Kind)
	}
	key := recordKey(k.Kind, ev.Object.Namespace, ev.Object.Name)
	var prev *object.Stored
	raw, found, err := s.Get(key)
	if err != nil {
		return err
	}
	if found {
		var rec record
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		if prev, err = object.DecodeStored(k, rec.Stored); err != nil {
			return err
		}
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	if next == nil {
		return s.Delete(key)
	}
	next.LastApplied = nil // the scheduler never merges manifests
	stored, err := next.Encode()
	if err != nil {
		return err
	}
	data, err := json.Marshal(record{Stored: stored, EventID: ev.ID, Correlation: ev.Correlation})
	if err != nil {
		return err
	}
	return s.Set(key, data)
}

func readRecord(rd projections.Reader, kind, namespace, name string) (*object.Stored, *record, error) {
	raw, ok, err := rd.Get(recordKey(kind, namespace, name))
	if err != nil || !ok {
		return nil, nil, err
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, nil, err
	}
	k, _ := object.ByKind(kind)
	st, err := object.DecodeStored(k, rec.Stored)
	return st, &rec, err
}
