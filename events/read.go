package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
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

// Cursor delivers records in stream order, without gaps or repeats. It reads
// through an ephemeral consumer that the server deletes 30 seconds after the cursor
// stops pulling; when that consumer fails (the server lost it, heartbeats stopped,
// a delivery was skipped), the cursor resumes after its last record on a new one,
// at most maxResumes times in a row without a record in between. Every wait honours
// the context given to Next: nothing retries on its own. When the stream itself is
// gone, Next returns an error wrapping ErrStreamGone. A Cursor is not safe for
// concurrent use.
type Cursor struct {
	l       *Log
	opts    ReadOptions
	cons    jetstream.Consumer
	iter    jetstream.MessagesContext // unbounded only
	pending []jetstream.Msg           // bounded only
	left    uint64                    // bounded only: matching events the server holds after the last one fetched
	next    uint64                    // stream sequence to resume at; 0 until a record is delivered
	dseq    uint64                    // consumer sequence of the last delivered record
	resumes int                       // consumers opened since the last record
	backlog uint64
	closed  bool
}

// maxResumes bounds how many new consumers a cursor opens without delivering a
// record before it gives its last error to the caller.
const maxResumes = 3

// Read opens a cursor over the log.
func (l *Log) Read(ctx context.Context, opts ReadOptions) (*Cursor, error) {
	c := &Cursor{l: l, opts: opts}
	if err := c.open(ctx); err != nil {
		return nil, err
	}
	if info := c.cons.CachedInfo(); info != nil {
		c.backlog = info.NumPending
	}
	return c, nil
}

// config is the consumer of the cursor's next record: from the reader's start
// until a record is delivered, then from the record after it.
func (c *Cursor) config() jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: 30 * time.Second,
		Replicas:          1,
		MemoryStorage:     true,
	}
	if len(c.opts.Subjects) == 1 {
		cfg.FilterSubject = c.opts.Subjects[0]
	} else {
		cfg.FilterSubjects = c.opts.Subjects
	}
	switch {
	case c.next > 0:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = c.next
	case c.opts.From > 1:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = c.opts.From
	case !c.opts.Since.IsZero():
		since := c.opts.Since
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	return cfg
}

// open creates the cursor's consumer (one request, no retry) and, for an unbounded
// cursor, starts pulling from it.
func (c *Cursor) open(ctx context.Context) error {
	from := max(c.next, c.opts.From)
	cons, err := c.l.js.CreateConsumer(ctx, c.l.stream, c.config())
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", c.l.stream, from, c.l.streamError(err))
	}
	c.cons, c.dseq = cons, 0
	if c.opts.Bounded {
		c.left = math.MaxUint64 // unknown: fetch until the server says
		if info := cons.CachedInfo(); info != nil {
			c.left = info.NumPending
		}
		return nil
	}
	// Pull requests of 5 s, heartbeats every 2.5 s: a consumer deleted under
	// the cursor (the stream's deletion) shows within about 5 s even when the
	// server's notice of it is missed; the default 30 s took up to a minute.
	iter, err := cons.Messages(jetstream.PullMaxMessages(2048), jetstream.PullExpiry(5*time.Second),
		jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", c.l.stream, from, err)
	}
	c.iter = iter
	return nil
}

// resume drops the current consumer and opens one at the record after the last
// delivered, unless that has failed maxResumes times in a row or the stream is
// gone; it returns cause (or why it could not resume) otherwise.
func (c *Cursor) resume(ctx context.Context, cause error) error {
	c.drop()
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.closed {
		return jetstream.ErrMsgIteratorClosed
	}
	if errors.Is(cause, ErrStreamGone) {
		return cause
	}
	if c.resumes >= maxResumes {
		return fmt.Errorf("read %s: %d consumers in a row failed before delivering a record: %w", c.l.stream, c.resumes, cause)
	}
	c.resumes++
	return c.open(ctx)
}

// drop stops pulling from the current consumer; the server deletes it once idle.
func (c *Cursor) drop() {
	if c.iter != nil {
		c.iter.Stop()
		c.iter = nil
	}
	c.cons, c.pending = nil, nil
}

// Backlog returns how many matching events were behind an unbounded cursor's
// start when it opened (0: none yet; new events arrive through Next). It comes
// with the consumer's creation and costs no request.
func (c *Cursor) Backlog() uint64 { return c.backlog }

// Next blocks until the next record or ctx ends. A bounded cursor returns io.EOF
// when no matching event is left.
func (c *Cursor) Next(ctx context.Context) (Record, error) {
	for {
		if c.closed {
			return Record{}, jetstream.ErrMsgIteratorClosed
		}
		if c.cons == nil {
			if err := c.resume(ctx, errors.New("no consumer")); err != nil {
				return Record{}, err
			}
		}
		var msg jetstream.Msg
		var err error
		if c.opts.Bounded {
			msg, err = c.nextBounded(ctx)
		} else {
			msg, err = c.iter.Next(jetstream.NextContext(ctx))
		}
		if errors.Is(err, io.EOF) {
			return Record{}, err
		}
		if err != nil {
			if ctx.Err() != nil {
				return Record{}, ctx.Err()
			}
			if rerr := c.resume(ctx, c.l.streamError(err)); rerr != nil {
				return Record{}, rerr
			}
			continue
		}
		md, err := msg.Metadata()
		if err != nil {
			return Record{}, fmt.Errorf("record metadata: %w", err)
		}
		if md.Sequence.Consumer != c.dseq+1 {
			// A delivery was lost: read again from the record after the last one.
			if rerr := c.resume(ctx, fmt.Errorf("read %s: delivery %d followed %d", c.l.stream, md.Sequence.Consumer, c.dseq)); rerr != nil {
				return Record{}, rerr
			}
			continue
		}
		c.dseq, c.next, c.resumes, c.left = md.Sequence.Consumer, md.Sequence.Stream+1, 0, md.NumPending
		return Record{
			Seq:     md.Sequence.Stream,
			Subject: msg.Subject(),
			Time:    md.Timestamp,
			Data:    msg.Data(),
			Pending: md.NumPending,
		}, nil
	}
}

// boundedBatch is the most events a bounded cursor fetches in one request;
// boundedWait bounds how long it waits for the events the server said it holds.
const (
	boundedBatch = 2048
	boundedWait  = 10 * time.Second
)

// nextBounded returns the next fetched message, fetching more when none is
// left, or io.EOF when the server holds no matching event after the last one. It
// relies only on what the server said: a fetch that ends with nothing while
// events are left (its reply was slower than its wait, on a loaded machine) is an
// error, for Next to resume on a new consumer, never the end of the log.
func (c *Cursor) nextBounded(ctx context.Context) (jetstream.Msg, error) {
	if len(c.pending) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var batch jetstream.MessageBatch
		var err error
		if c.left == 0 {
			// Caught up when the last event was delivered: one request without
			// wait takes the events appended since, if any.
			batch, err = c.cons.FetchNoWait(boundedBatch)
		} else {
			fctx, cancel := context.WithTimeout(ctx, boundedWait)
			defer cancel()
			batch, err = c.cons.Fetch(int(min(c.left, boundedBatch)), jetstream.FetchContext(fctx))
		}
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
			if c.left == 0 {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("read %s: no event delivered within %s though the server holds %d more", c.l.stream, boundedWait, c.left)
		}
	}
	m := c.pending[0]
	c.pending = c.pending[1:]
	return m, nil
}

// Close stops delivery. It is safe to call more than once.
func (c *Cursor) Close() {
	c.closed = true
	c.drop()
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
		return Record{}, l.streamError(err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return Record{}, fmt.Errorf("event at sequence %d: %w", seq, l.streamError(err))
	}
	return Record{Seq: m.Sequence, Subject: m.Subject, Time: m.Time, Data: m.Data}, nil
}
