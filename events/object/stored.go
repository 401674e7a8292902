package object

import (
	"encoding/json"
	"fmt"
)

type storedJSON struct {
	Object  json.RawMessage `json:"object"`
	Applied json.RawMessage `json:"applied,omitempty"`
	Version uint64          `json:"version,omitempty"`
}

// Encode serialises a stored object for a projection or a query answer.
func (s *Stored) Encode() ([]byte, error) {
	obj, err := json.Marshal(s.Object)
	if err != nil {
		return nil, err
	}
	return json.Marshal(storedJSON{Object: obj, Applied: s.LastApplied, Version: s.Version})
}

// DecodeStored is the inverse of Stored.Encode for an object of kind k. It parses
// the data once, straight into the kind's type.
func DecodeStored(k *Kind, data []byte) (*Stored, error) {
	obj := k.New()
	sj := struct {
		Object  Object          `json:"object"`
		Applied json.RawMessage `json:"applied,omitempty"`
		Version uint64          `json:"version,omitempty"`
	}{Object: obj}
	if err := json.Unmarshal(data, &sj); err != nil {
		return nil, fmt.Errorf("stored %s: %w", k.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(schemaGVK(k))
	return &Stored{Object: obj, LastApplied: sj.Applied, Version: sj.Version}, nil
}

// DecodeObject parses an object of kind k from JSON written by wake (not strict:
// strictness is for what people write).
func DecodeObject(k *Kind, data []byte) (Object, error) {
	obj := k.New()
	if err := json.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("decode %s: %w", k.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(schemaGVK(k))
	return obj, nil
}
