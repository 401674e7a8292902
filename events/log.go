package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultStream is the name of the stream of record.
const DefaultStream = "WAKE"

// StreamConfig is what an operator chooses about the stream of record. The zero
// value keeps everything forever on one replica.
type StreamConfig struct {
	Name     string        // default DefaultStream
	Replicas int           // default 1; 3 or 5 on a JetStream cluster
	MaxAge   time.Duration // 0: keep forever
	MaxBytes int64         // 0: no size limit
}

// Log appends to and reads from the stream of record. It is safe for concurrent use.
type Log struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  string
	metrics *Metrics // nil: appends are not counted
}

// NewLog returns a client of the stream named stream (DefaultStream when empty) over
// nc. It makes no request: a missing stream shows on first use.
func NewLog(nc *nats.Conn, stream string, opts ...LogOption) (*Log, error) {
	if stream == "" {
		stream = DefaultStream
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, fmt.Errorf("jetstream client: %w", err)
	}
	l := &Log{nc: nc, js: js, stream: stream}
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// Conn returns the NATS connection the log uses.
func (l *Log) Conn() *nats.Conn { return l.nc }

// JetStream returns the underlying JetStream context (for KV buckets and the like).
func (l *Log) JetStream() jetstream.JetStream { return l.js }

// Ensure creates the stream of record, or updates it to cfg, idempotently. The
// stream denies deletes and purges: the log is the audit trail, and nothing in it is
// ever overwritten or removed through the API.
func (l *Log) Ensure(ctx context.Context, cfg StreamConfig) error {
	replicas := cfg.Replicas
	if replicas == 0 {
		replicas = 1
	}
	maxBytes := cfg.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	sc := jetstream.StreamConfig{
		Name:        l.stream,
		Description: "wake: the stream of record (desired and observed state)",
		Subjects:    []string{AllSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    maxBytes,
		MaxMsgs:     -1,
		MaxMsgSize:  MaxEventBytes,
		Replicas:    replicas,
		Duplicates:  2 * time.Minute,
		AllowDirect: true,
		DenyDelete:  true,
		DenyPurge:   true,
	}
	if _, err := l.js.CreateOrUpdateStream(ctx, sc); err != nil {
		return fmt.Errorf("ensure stream %s: %w", l.stream, err)
	}
	return nil
}

// ErrStreamGone is wrapped by every error that comes from the stream of record
// no longer existing on the server: someone deleted it, or the server was given
// another store. wake never recreates it behind a reader's back: an empty log
// would silently forget every object.
var ErrStreamGone = errors.New("the stream of record is gone")

// streamError marks err as ErrStreamGone when the server says the stream does not
// exist; other errors are returned unchanged.
func (l *Log) streamError(err error) error {
	if err == nil || errors.Is(err, ErrStreamGone) {
		return err
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return &goneError{stream: l.stream, err: err}
	}
	return err
}

type goneError struct {
	stream string
	err    error
}

func (e *goneError) Error() string {
	return fmt.Sprintf("the stream of record %s does not exist on the server (%v): it was deleted, and wake does not recreate it empty; "+
		"stop the server and restore its data directory, or start one on a new data directory", e.stream, e.err)
}

func (e *goneError) Is(target error) bool { return target == ErrStreamGone }

func (e *goneError) Unwrap() error { return e.err }

// ErrConflict is wrapped by every append refused because the object's subject has
// moved past the version the writer decided from. Callers fold the newer events,
// decide again, and retry.
var ErrConflict = errors.New("version conflict")

// ConflictError reports a refused guarded append.
type ConflictError struct {
	Object   Ref
	Expected uint64
	Err      error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s changed since version %d: %v", e.Object, e.Expected, e.Err)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

func (e *ConflictError) Unwrap() error { return e.Err }

// Append stores ev on its object's subject if and only if the subject's latest
// event is still at expectedVersion (0: the subject must hold no event). It returns
// the stream sequence of ev, which becomes the object's version. A version mismatch
// returns an error wrapping ErrConflict and stores nothing. Retrying the same ev (same
// ID) inside the duplicate window stores it once and returns the first sequence.
func (l *Log) Append(ctx context.Context, ev *Event, expectedVersion uint64) (uint64, error) {
	msg, err := l.message(ev)
	if err != nil {
		return 0, err
	}
	ack, err := l.js.PublishMsg(ctx, msg,
		jetstream.WithMsgID(ev.ID),
		jetstream.WithExpectStream(l.stream),
		jetstream.WithExpectLastSequencePerSubject(expectedVersion))
	if err != nil {
		return l.failed(ctx, ev, expectedVersion, err)
	}
	l.metrics.observe(ev, nil)
	return ack.Sequence, nil
}

// failed settles a refused append and counts its outcome.
func (l *Log) failed(ctx context.Context, ev *Event, expected uint64, err error) (uint64, error) {
	seq, err := l.settle(ctx, ev, expected, l.appendError(ev, expected, err))
	l.metrics.observe(ev, err)
	return seq, err
}

// settle turns a conflict into success when ev itself is stored on its subject
// after expected: a retry of an append whose acknowledgement was lost. The server
// checks the version guard before its duplicate window, so without this a retried
// append would report a conflict for an event that is stored.
func (l *Log) settle(ctx context.Context, ev *Event, expected uint64, err error) (uint64, error) {
	if !errors.Is(err, ErrConflict) {
		return 0, err
	}
	s, serr := l.js.Stream(ctx, l.stream)
	if serr != nil {
		return 0, err
	}
	// Walk the subject's events after expected: usually one or two.
	for seq := expected + 1; ; {
		msg, gerr := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(ev.Object.Subject()))
		if gerr != nil {
			return 0, err
		}
		if msg.Header.Get(jetstream.MsgIDHeader) == ev.ID {
			return msg.Sequence, nil
		}
		seq = msg.Sequence + 1
	}
}

// AppendGuardedBy stores ev on its object's subject if and only if the latest event
// on guardSubject (a subject or a wildcard filter, e.g. every object of a namespace)
// is still at expectedVersion (0: no event matches it). It guards on facts outside
// the object's own subject; otherwise it behaves as Append.
func (l *Log) AppendGuardedBy(ctx context.Context, ev *Event, expectedVersion uint64, guardSubject string) (uint64, error) {
	msg, err := l.message(ev)
	if err != nil {
		return 0, err
	}
	ack, err := l.js.PublishMsg(ctx, msg,
		jetstream.WithMsgID(ev.ID),
		jetstream.WithExpectStream(l.stream),
		jetstream.WithExpectLastSequenceForSubject(expectedVersion, guardSubject))
	if err != nil {
		return l.failed(ctx, ev, expectedVersion, err)
	}
	l.metrics.observe(ev, nil)
	return ack.Sequence, nil
}

func (l *Log) message(ev *Event) (*nats.Msg, error) {
	if ev.ID == "" || ev.Type == "" || ev.Schema == 0 {
		return nil, fmt.Errorf("append %s: event needs id, type and schema", ev.Object)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("append %s: %w", ev.Object, err)
	}
	if len(data) > MaxEventBytes {
		return nil, &TooLargeError{Type: ev.Type, Object: ev.Object, Size: len(data)}
	}
	return &nats.Msg{Subject: ev.Object.Subject(), Data: data, Header: nats.Header{}}, nil
}

func (l *Log) appendError(ev *Event, expected uint64, err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
			return &ConflictError{Object: ev.Object, Expected: expected, Err: err}
		case jetstream.JSErrCodeStreamMessageExceedsMaximum:
			return fmt.Errorf("append %s %s: the stream refused the event as larger than its max_msg_size (wake's events are at most %d bytes): %w", ev.Type, ev.Object, MaxEventBytes, err)
		}
	}
	if errors.Is(err, nats.ErrMaxPayload) {
		return fmt.Errorf("append %s %s: the server refused the event as larger than its max_payload (%d bytes here; a wake server allows %d): %w", ev.Type, ev.Object, l.nc.MaxPayload(), MaxPayload, err)
	}
	return fmt.Errorf("append %s %s: %w", ev.Type, ev.Object, l.streamError(err))
}

// Pipeline sends guarded appends without waiting for each acknowledgement, for bulk
// writers. The same guards and ids apply as in Append. A Pipeline is not safe for
// concurrent use; use one per goroutine.
type Pipeline struct {
	l       *Log
	pending []pipelined
}

type pipelined struct {
	ev       *Event
	expected uint64
	future   jetstream.PubAckFuture
}

// Result is the outcome of one pipelined append, in the order of the appends.
type Result struct {
	Event *Event
	Seq   uint64
	Err   error
}

// Pipeline starts a batch of pipelined appends.
func (l *Log) Pipeline() *Pipeline { return &Pipeline{l: l} }

// Append sends ev guarded by expectedVersion. Errors returned here are local (the
// event could not be sent); the server's answer comes from Wait.
func (p *Pipeline) Append(ev *Event, expectedVersion uint64) error {
	msg, err := p.l.message(ev)
	if err != nil {
		return err
	}
	f, err := p.l.js.PublishMsgAsync(msg,
		jetstream.WithMsgID(ev.ID),
		jetstream.WithExpectStream(p.l.stream),
		jetstream.WithExpectLastSequencePerSubject(expectedVersion))
	if err != nil {
		return fmt.Errorf("append %s %s: %w", ev.Type, ev.Object, err)
	}
	p.pending = append(p.pending, pipelined{ev: ev, expected: expectedVersion, future: f})
	return nil
}

// Len returns the number of appends not yet collected by Wait.
func (p *Pipeline) Len() int { return len(p.pending) }

// Wait collects the outcome of every append sent since the last Wait, in order.
func (p *Pipeline) Wait(ctx context.Context) ([]Result, error) {
	out := make([]Result, len(p.pending))
	for i, pe := range p.pending {
		out[i].Event = pe.ev
		select {
		case ack := <-pe.future.Ok():
			out[i].Seq = ack.Sequence
			p.l.metrics.observe(pe.ev, nil)
		case err := <-pe.future.Err():
			out[i].Seq, out[i].Err = p.l.failed(ctx, pe.ev, pe.expected, err)
		case <-ctx.Done():
			p.pending = p.pending[i:]
			return out[:i], ctx.Err()
		}
	}
	p.pending = p.pending[:0]
	return out, nil
}

// LastSeq returns the sequence of the newest event in the stream (0 if empty).
func (l *Log) LastSeq(ctx context.Context) (uint64, error) {
	s, err := l.js.Stream(ctx, l.stream)
	if err != nil {
		return 0, l.streamError(err)
	}
	return s.CachedInfo().State.LastSeq, nil
}

// SubjectVersion returns the sequence of the latest event on ref's subject, or 0
// when the subject holds no event.
func (l *Log) SubjectVersion(ctx context.Context, ref Ref) (uint64, error) {
	v, err := l.FilterVersion(ctx, ref.Subject())
	if err != nil {
		return 0, fmt.Errorf("version of %s: %w", ref, err)
	}
	return v, nil
}

// FilterVersion returns the sequence of the latest event matching filter (a
// subject or a wildcard filter, such as every Service's subjects), or 0 when
// none does: the version AppendGuardedBy names with that filter.
func (l *Log) FilterVersion(ctx context.Context, filter string) (uint64, error) {
	s, err := l.js.Stream(ctx, l.stream)
	if err != nil {
		return 0, l.streamError(err)
	}
	msg, err := s.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, l.streamError(err)
	}
	return msg.Sequence, nil
}
