package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wake-run/wake/services/servicenet"
)

// Subjects the query service answers on (core NATS request/reply, not the log).
const (
	SubjectGet    = "wake.query.get"
	SubjectList   = "wake.query.list"
	SubjectEvents = "wake.query.events"
	// SubjectSeqs answers the log sequences of event ids.
	SubjectSeqs = "wake.query.seqs"
	// SubjectNetwork answers the service network (servicenet.Network): where
	// writers of Services allocate, and what node agents route.
	SubjectNetwork = "wake.query.network"
)

// Request asks for one object (Name set), a list, or an object's events.
type Request struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Selector is a label selector in kubectl's syntax ("app=web,tier in (a,b)").
	Selector string `json:"selector,omitempty"`
	// MinSeq: answer from a projection that has folded at least this sequence. 0
	// means the newest event in the log when the request arrives (read your writes).
	MinSeq uint64 `json:"minSeq,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	// At asks for the state as it was at a past moment: after the event with
	// this sequence, or after the last event at or before AtTime. Zero: now.
	At     uint64    `json:"at,omitempty"`
	AtTime time.Time `json:"atTime,omitzero"`
	// IDs are event ids whose sequences a seqs request asks for.
	IDs []string `json:"ids,omitempty"`
	// Keys are the stored events a rejected request asks about.
	Keys []EventKey `json:"keys,omitempty"`
}

// At names a moment of the log: a sequence, or a time (the state after the last
// event at or before it). The zero At means now.
type At struct {
	Seq  uint64
	Time time.Time
}

// IsZero reports whether a is now.
func (a At) IsZero() bool { return a.Seq == 0 && a.Time.IsZero() }

func (a At) String() string {
	if !a.Time.IsZero() {
		return a.Time.UTC().Format(time.RFC3339Nano)
	}
	if a.Seq == 0 {
		return "now"
	}
	return fmt.Sprintf("sequence %d", a.Seq)
}

// Response is one reply message. A list may span several messages; the last has
// Done set.
type Response struct {
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
	// Checkpoint is the log sequence the answer reflects.
	Checkpoint uint64 `json:"checkpoint"`
	// Version of the object asked for: its resourceVersion, or the sequence of its
	// deletion when it no longer exists (0: never existed).
	Version uint64            `json:"version,omitempty"`
	Items   []json.RawMessage `json:"items,omitempty"` // object.Stored encodings
	Events  []EventSummary    `json:"events,omitempty"`
	Steps   []Step            `json:"steps,omitempty"`
	// Seqs answers a seqs request, in the order of its IDs (0: not in the log).
	Seqs []uint64 `json:"seqs,omitempty"`
	// Rejected answers a rejected request, in the order of its Keys: empty for
	// an event that took effect, else why it did not.
	Rejected []string `json:"rejected,omitempty"`
	// Note says why a causal chain ended before an event without a cause.
	Note string `json:"note,omitempty"`
	// Network answers a network request.
	Network *servicenet.Network `json:"network,omitempty"`
	Done    bool                `json:"done"`
}

// Error codes.
const (
	CodeNotFound   = "NotFound"
	CodeBadRequest = "BadRequest"
	CodeTimeout    = "Timeout"
	CodeInternal   = "Internal"
)

// ErrNotFound is wrapped by errors for objects that do not exist.
var ErrNotFound = errors.New("not found")

// NotFoundError reports a missing object and the version of its subject, so a
// writer can create it again guarded by that version.
type NotFoundError struct {
	Kind, Namespace, Name string
	Version               uint64
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %q not found", e.Kind, e.Name)
}

func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// RemoteError is an error the service answered with.
type RemoteError struct{ Code, Message string }

func (e *RemoteError) Error() string { return e.Message }
