package object

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Encode serialises a stored object for a projection or a query answer.
// The envelope is written by hand around the object's encoding: marshalling a struct
// holding it as a json.RawMessage would scan and compact the object's bytes a second time.
func (s *Stored) Encode() ([]byte, error) {
	obj, err := json.Marshal(s.Object)
	if err != nil {
		return nil, err
	}
	// LastApplied is JSON by contract: it was decoded from an event or a stored
	// object, or marshalled by a client.
	applied := bytes.TrimSpace(s.LastApplied)
	out := make([]byte, 0, len(obj)+len(applied)+48)
	out = append(out, `{"object":`...)
	out = append(out, obj...)
	if len(applied) > 0 && string(applied) != "null" {
		out = append(out, `,"applied":`...)
		out = append(out, applied...)
	}
	if s.Version != 0 {
		out = append(out, `,"version":`...)
		out = strconv.AppendUint(out, s.Version, 10)
	}
	return append(out, '}'), nil
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

// UnreadableAnnotation marks an object a list returns although the server could
// not read all of it: a Secret whose data key is gone comes without its data,
// and the annotation's value says why. Writers may not set it.
const UnreadableAnnotation = "wake.io/unreadable"
