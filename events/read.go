package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Record is one raw message of the stream of record, before decoding. Pending is the
// number of messages matching the reader's filter that were still behind this one
// when it was delivered (0: the reader has caught up).
type Record struct {
	Seq     uint64
	Subject string
	Time    time.Time
	Data    []byte
	Pending uint64
}

// Decode parses the record as an Event (see Decode). The event's Time is the
// time the log stored it (r.Time, JetStream's own timestamp), whatever the writer
// claimed; the claimed time is kept in Claimed. A record without a stored time
// (made by hand, not read from the log) keeps the claimed time.
func (r Record) Decode() (*Event, error) {
	ev, err := Decode(r.Data, r.Seq, r.Subject)
	if err != nil || r.Time.IsZero() {
		return ev, err
	}
	ev.Claimed, ev.Time = ev.Time, r.Time.UTC()
	return ev, nil
}

// ReadOptions choose where a Cursor starts and what it sees.
type ReadOptions struct {
	// From is the first stream sequence to deliver; 0 or 1 start at the beginning.
	From uint64
	// Since, when set and From is 0 or 1, starts at the first event stored at or
	// after it.
	Since time.Time
	// Subjects filters the subjects to deliver; empty means every event.
	Subjects []string
	// Bounded makes Next return io.EOF once it has delivered every matching event
	// in the log, instead of waiting for new ones.
	Bounded bool
}

// Cursor delivers records in stream order, without gaps or repeats, from an ordered
// consumer that the server deletes when the cursor is closed or abandoned. A Cursor
// is not safe for concurrent use.
type Cursor struct {
	iter    jetstream.MessagesContext // unbounded
	cons    jetstream.Consumer        // bounded
	pending []jetstream.Msg
	backlog uint64
}

// Read opens a cursor over the log.
func (l *Log) Read(ctx context.Context, opts ReadOptions) (*Cursor, error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    opts.Subjects,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: 30 * time.Second,
	}
	switch {
	case opts.From > 1:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = opts.From
	case !opts.Since.IsZero():
		since := opts.Since
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	cons, err := l.js.OrderedConsumer(ctx, l.stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("read %s from %d: %w", l.stream, opts.From, err)
	}
	if opts.Bounded {
		return &Cursor{cons: cons}, nil
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(2048))
	if err != nil {
		return nil, fmt.Errorf("read %s from %d: %w", l.stream, opts.From, err)
	}
	c := &Cursor{iter: iter}
	if info := cons.CachedInfo(); info != nil {
		c.backlog = info.NumPending
	}
	return c, nil
}

// Backlog returns how many matching events were behind an unbounded cursor's
// start when it opened (0: none yet; new events arrive through Next). It comes
// with the consumer's creation and costs no request.
func (c *Cursor) Backlog() uint64 { return c.backlog }

// Next blocks until the next record or ctx ends. A bounded cursor returns io.EOF
// when no matching event is left.
func (c *Cursor) Next(ctx context.Context) (Record, error) {
	var msg jetstream.Msg
	var err error
	if c.cons != nil {
		msg, err = c.nextBounded(ctx)
	} else {
		msg, err = c.iter.Next(jetstream.NextContext(ctx))
	}
	if err != nil {
		return Record{}, err
	}
	md, err := msg.Metadata()
	if err != nil {
		return Record{}, fmt.Errorf("record metadata: %w", err)
	}
	return Record{
		Seq:     md.Sequence.Stream,
		Subject: msg.Subject(),
		Time:    md.Timestamp,
		Data:    msg.Data(),
		Pending: md.NumPending,
	}, nil
}

func (c *Cursor) nextBounded(ctx context.Context) (jetstream.Msg, error) {
	if len(c.pending) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch, err := c.cons.FetchNoWait(2048)
		if err != nil {
			return nil, err
		}
		for m := range batch.Messages() {
			c.pending = append(c.pending, m)
		}
		if err := batch.Error(); err != nil && len(c.pending) == 0 {
			return nil, err
		}
		if len(c.pending) == 0 {
			return nil, io.EOF
		}
	}
	m := c.pending[0]
	c.pending = c.pending[1:]
	return m, nil
}

// Close stops delivery. It is safe to call more than once.
func (c *Cursor) Close() {
	if c.iter != nil {
		c.iter.Stop()
	}
}

// SeqAt returns the sequence of the newest event stored at or before t (0 when
// the log has none that old).
func (l *Log) SeqAt(ctx context.Context, t time.Time) (uint64, error) {
	cur, err := l.Read(ctx, ReadOptions{Since: t.Add(time.Nanosecond), Bounded: true})
	if err != nil {
		return 0, err
	}
	defer cur.Close()
	rec, err := cur.Next(ctx)
	if errors.Is(err, io.EOF) {
		return l.LastSeq(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("sequence at %s: %w", t.Format(time.RFC3339Nano), err)
	}
	return rec.Seq - 1, nil
}

// Get returns the record stored at seq.
func (l *Log) Get(ctx context.Context, seq uint64) (Record, error) {
	s, err := l.js.Stream(ctx, l.stream)
	if err != nil {
		return Record{}, fmt.Errorf("stream %s: %w", l.stream, err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return Record{}, fmt.Errorf("event at sequence %d: %w", seq, err)
	}
	return Record{Seq: m.Sequence, Subject: m.Subject, Time: m.Time, Data: m.Data}, nil
}
