// Package events defines wake's event envelope, the NATS subjects events live on,
// and the log client that appends to and reads from the stream of record.
//
// Every change of desired or observed state is one Event. Events are immutable once
// appended; an object's version is the stream sequence of the latest event on its
// subject, and every append names the version it decided from.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nuid"
)

// SchemaVersion is the envelope schema this build writes and the newest it reads.
// A consumer meeting an event with a higher schema records a rejection and moves on.
const SchemaVersion = 1

// Ref names the object an event is about. Namespace is empty for cluster-scoped kinds.
// Node, when set, addresses the object's facet in that node's inbox (see Subject):
// the work a node must do for the object and what the node reports about it.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Node      string `json:"node,omitempty"`
}

// String returns kind/namespace/name (kind/name when cluster-scoped), with
// "@node" for a node facet.
func (r Ref) String() string {
	s := r.Kind + "/" + r.Name
	if r.Namespace != "" {
		s = r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	if r.Node != "" {
		s += "@" + r.Node
	}
	return s
}

// Object returns the reference without its node facet.
func (r Ref) Object() Ref { r.Node = ""; return r }

// Event is the envelope of everything on the log.
//
// ID is unique per event and is sent as the NATS message id, so a retried publish
// inside the stream's duplicate window is stored once. Cause is the ID of the event
// this one reacts to; Correlation is the ID of the user action that started the chain
// (an event without a cause is its own correlation). Seq and Subject are filled when
// the event is read back from the log and are never part of the stored JSON.
//
// Time is what the writer claims when it appends; read back from the log
// (Record.Decode) it is the time the log stored the event, and what the writer
// claimed moves to Claimed. No reader trusts a writer's clock.
type Event struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Object      Ref             `json:"object"`
	Time        time.Time       `json:"time"`
	Actor       string          `json:"actor"`
	Cause       string          `json:"cause,omitempty"`
	Correlation string          `json:"correlation,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	Schema      int             `json:"schema"`
	Payload     json.RawMessage `json:"payload,omitempty"`

	Seq     uint64 `json:"-"`
	Subject string `json:"-"`
	// Claimed is the time the writer put in the envelope, when Time was
	// replaced by the time the log stored the event. It is informational only.
	Claimed time.Time `json:"-"`
	// Decoded is a consumer's decoding of Payload, made ahead of its fold on
	// another goroutine (see projections.Projection.Prepare); nil when none was.
	// It is never stored, and a fold must not modify what it holds.
	Decoded any `json:"-"`
}

// NewID returns a fresh, unique event id.
func NewID() string { return nuid.Next() }

// New returns an event with a fresh id, the current schema, and its own id as
// correlation. The payload is marshalled to JSON.
func New(typ string, ref Ref, actor string, payload any) (*Event, error) {
	ev := &Event{ID: NewID(), Type: typ, Object: ref, Time: time.Now().UTC(), Actor: actor, Schema: SchemaVersion}
	ev.Correlation = ev.ID
	if payload != nil {
		raw, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("event %s %s: marshal payload: %w", typ, ref, err)
		}
		ev.Payload = raw
	}
	return ev, nil
}

// CausedBy marks ev as a reaction to cause: it takes cause's id as its cause and
// cause's correlation as its own.
func (ev *Event) CausedBy(cause *Event) *Event {
	if cause != nil {
		ev.Cause = cause.ID
		ev.Correlation = cause.Correlation
		if ev.Correlation == "" {
			ev.Correlation = cause.ID
		}
	}
	return ev
}

// ErrMalformed is wrapped by every error that Decode returns for an event that no
// consumer can fold: bad JSON, a missing field, or a newer schema.
var ErrMalformed = errors.New("malformed event")

// Decode parses a stored event and checks the envelope. seq and subject are the
// message's stream sequence and subject. The object reference must map to subject.
// The event's Time is the one the writer claimed: readers of the log use
// Record.Decode, which replaces it by the time the log stored the event.
func Decode(data []byte, seq uint64, subject string) (*Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, fmt.Errorf("%w: seq %d on %s: %v", ErrMalformed, seq, subject, err)
	}
	ev.Seq, ev.Subject = seq, subject
	switch {
	case ev.ID == "":
		return nil, fmt.Errorf("%w: seq %d on %s: no id", ErrMalformed, seq, subject)
	case ev.Type == "":
		return nil, fmt.Errorf("%w: seq %d on %s: no type", ErrMalformed, seq, subject)
	case ev.Schema < 1 || ev.Schema > SchemaVersion:
		return nil, fmt.Errorf("%w: seq %d on %s: schema version %d, this build reads 1..%d", ErrMalformed, seq, subject, ev.Schema, SchemaVersion)
	case ev.Object.Kind == "" || ev.Object.Name == "":
		return nil, fmt.Errorf("%w: seq %d on %s: object reference incomplete", ErrMalformed, seq, subject)
	}
	if want := ev.Object.Subject(); want != subject {
		return nil, fmt.Errorf("%w: seq %d: object %s belongs on %s, found on %s", ErrMalformed, seq, ev.Object, want, subject)
	}
	return &ev, nil
}
