package projections

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/wake-run/wake/events"
)

// decoded is a record with its envelope decoded, and prepared when the
// projection has a Prepare, ahead of the fold.
type decoded struct {
	rec events.Record
	ev  *events.Event
	err error // the event cannot be decoded: the fold rejects it
}

// decode decodes a record and prepares its event; it runs on any goroutine.
func (r *Runner) decode(rec events.Record) decoded {
	ev, err := rec.Decode()
	if err == nil && r.p.Prepare != nil {
		r.p.Prepare(ev)
	}
	return decoded{rec: rec, ev: ev, err: err}
}

// prefetcher reads a cursor on its own goroutine and decodes records on
// GOMAXPROCS workers, handing them to the fold in log order: the fold's
// goroutine spends its time folding.
type prefetcher struct {
	order  chan chan decoded // one slot per record, in log order
	failed chan error        // the cursor's error, after the last slot
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// prefetchDepth bounds the records read ahead of the fold.
const prefetchDepth = 1024

type decodeJob struct {
	rec  events.Record
	slot chan decoded
}

func (r *Runner) prefetch(ctx context.Context, cur *events.Cursor) *prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	pf := &prefetcher{order: make(chan chan decoded, prefetchDepth), failed: make(chan error, 1), cancel: cancel}
	work := make(chan decodeJob, prefetchDepth)
	for range max(1, runtime.GOMAXPROCS(0)) {
		pf.wg.Add(1)
		go func() {
			defer pf.wg.Done()
			for j := range work {
				j.slot <- r.decode(j.rec)
			}
		}()
	}
	pf.wg.Add(1)
	go func() {
		defer pf.wg.Done()
		defer close(work)
		for {
			rec, err := cur.Next(ctx)
			if err != nil {
				pf.failed <- err
				close(pf.order)
				return
			}
			slot := make(chan decoded, 1)
			select {
			case pf.order <- slot:
			case <-ctx.Done():
				return
			}
			select {
			case work <- decodeJob{rec, slot}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return pf
}

// next returns the next decoded record. With a batch waiting, it gives up after
// idleCommit with errIdle when no record has been read.
func (pf *prefetcher) next(ctx context.Context, waiting bool) (decoded, error) {
	var slot chan decoded
	var ok bool
	select {
	case slot, ok = <-pf.order:
	default:
		var timeout <-chan time.Time
		if waiting {
			t := time.NewTimer(idleCommit)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case slot, ok = <-pf.order:
		case <-timeout:
			return decoded{}, errIdle
		case <-ctx.Done():
			return decoded{}, ctx.Err()
		}
	}
	if !ok {
		return decoded{}, <-pf.failed
	}
	select {
	case d := <-slot:
		return d, nil
	case <-ctx.Done():
		return decoded{}, ctx.Err()
	}
}

// stop ends the reader and the workers; the cursor may then be closed.
func (pf *prefetcher) stop() {
	pf.cancel()
	pf.wg.Wait()
}
