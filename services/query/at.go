package query

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
)

// scratchCacheSize bounds how many past states the service keeps built: a
// dashboard's timeline asks for several kinds at the same moment.
const scratchCacheSize = 4

// history builds and caches the query projection as of past sequences.
type history struct {
	log   *events.Log
	store *projections.SnapshotStore // nil: always fold from sequence 1

	mu      sync.Mutex
	entries map[uint64]*scratchEntry
	order   []uint64 // least recently used first
}

type scratchEntry struct {
	ready   chan struct{}
	sc      *projections.Scratch
	err     error
	users   int
	evicted bool
}

func newHistory(log *events.Log, store *projections.SnapshotStore) *history {
	return &history{log: log, store: store, entries: map[uint64]*scratchEntry{}}
}

// view calls fn with the query projection as of seq. Concurrent requests for the
// same sequence share one build.
func (h *history) view(ctx context.Context, seq uint64, fn func(rd projections.Reader, cp uint64) error) error {
	e := h.acquire(ctx, seq)
	defer h.release(seq, e)
	select {
	case <-e.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if e.err != nil {
		return e.err
	}
	return fn(e.sc.Reader(), seq)
}

func (h *history) acquire(ctx context.Context, seq uint64) *scratchEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.entries[seq]; ok && !failed(e) {
		e.users++
		h.touch(seq)
		return e
	}
	e := &scratchEntry{ready: make(chan struct{}), users: 1}
	h.entries[seq] = e
	h.touch(seq)
	go func() {
		// The build outlives one request's context: others may be waiting for it.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		e.sc, e.err = projections.BuildAt(bctx, h.log, Projection(), h.store, seq)
		close(e.ready)
		if e.err != nil {
			h.mu.Lock()
			if h.entries[seq] == e {
				delete(h.entries, seq)
				h.drop(seq)
			}
			h.mu.Unlock()
		}
	}()
	h.evict()
	return e
}

// failed reports whether e's build has ended in an error (e.err is read only
// once ready is closed).
func failed(e *scratchEntry) bool {
	select {
	case <-e.ready:
		return e.err != nil
	default:
		return false
	}
}

func (h *history) release(seq uint64, e *scratchEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.users--
	if e.evicted && e.users == 0 {
		<-e.ready
		if e.sc != nil {
			_ = e.sc.Close()
		}
	}
}

// touch marks seq most recently used. Callers hold mu.
func (h *history) touch(seq uint64) {
	h.drop(seq)
	h.order = append(h.order, seq)
}

func (h *history) drop(seq uint64) {
	for i, s := range h.order {
		if s == seq {
			h.order = append(h.order[:i], h.order[i+1:]...)
			return
		}
	}
}

// evict closes the least recently used states beyond the cache size once their
// readers are done. Callers hold mu.
func (h *history) evict() {
	for len(h.order) > scratchCacheSize {
		seq := h.order[0]
		h.order = h.order[1:]
		e := h.entries[seq]
		delete(h.entries, seq)
		e.evicted = true
		if e.users == 0 {
			go func() {
				<-e.ready
				if e.sc != nil {
					_ = e.sc.Close()
				}
			}()
		}
	}
}

// close frees every cached state; no view may be running.
func (h *history) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for seq, e := range h.entries {
		<-e.ready
		if e.sc != nil {
			_ = e.sc.Close()
		}
		delete(h.entries, seq)
	}
	h.order = nil
}

// errNotAtMoment: the live projection is not at the moment asked for.
var errNotAtMoment = errors.New("live projection is elsewhere")

// resolve turns a request's moment into a log sequence. ok is false when the
// request asks for now.
func (s *Service) resolve(ctx context.Context, req *Request) (seq uint64, ok bool, err error) {
	if req.At == 0 && req.AtTime.IsZero() {
		return 0, false, nil
	}
	last, err := s.log.LastSeq(ctx)
	if err != nil {
		return 0, false, err
	}
	if !req.AtTime.IsZero() {
		seq, err := s.log.SeqAt(ctx, req.AtTime)
		return seq, true, err
	}
	if req.At > last {
		return 0, false, &RemoteError{Code: CodeBadRequest, Message: fmt.Sprintf("sequence %d is after the newest event of the log (sequence %d)", req.At, last)}
	}
	return req.At, true, nil
}

// view calls fn with the projection the request asks about: the live one once it
// has caught up, or the state at a past moment.
func (s *Service) view(req *Request, fn func(rd projections.Reader, cp uint64) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.WaitTimeout)
	defer cancel()
	seq, past, err := s.resolve(ctx, req)
	if err != nil {
		return err
	}
	if past {
		// The live projection answers when it is exactly at that moment (checked
		// inside the view: a commit may move it between a check and the view).
		err := s.runner.View(func(rd projections.Reader, cp uint64) error {
			if cp != seq {
				return errNotAtMoment
			}
			return fn(rd, cp)
		})
		if !errors.Is(err, errNotAtMoment) {
			return err
		}
		hctx, hcancel := context.WithTimeout(context.Background(), s.AtTimeout)
		defer hcancel()
		if err := s.history.view(hctx, seq, fn); err != nil {
			return fmt.Errorf("state at sequence %d: %w", seq, err)
		}
		return nil
	}
	if err := s.catchUp(req); err != nil {
		return err
	}
	return s.runner.View(fn)
}
