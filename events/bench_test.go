package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
)

// Append benchmarks: every writer owns its subjects and guards each append with
// the subject's last sequence, which it tracks itself. b.N is the total number of
// events over all writers. BenchmarkRawPublish runs the same shapes on bare
// JetStream publishes: the floor that BenchmarkAppend is compared with.
const (
	benchEventSize = 400
	syncSubjects   = 16  // per writer
	pipelineWindow = 256 // subjects per writer = appends in flight per writer
)

type appendShape struct {
	name      string
	writers   int
	pipelined bool
}

var appendShapes = []appendShape{
	{"sync/writers=1", 1, false},
	{"sync/writers=8", 8, false},
	{"pipelined/writers=1", 1, true},
	{"pipelined/writers=8", 8, true},
}

// benchEvents returns n events of about benchEventSize bytes over writer w's subjects.
func benchEvents(b *testing.B, w, subjects, n int) []*events.Event {
	b.Helper()
	evs := make([]*events.Event, n)
	for i := range evs {
		ref := events.Ref{Kind: "bench", Namespace: "default", Name: fmt.Sprintf("w%d-s%d", w, i%subjects)}
		ev, err := events.New("bench.updated", ref, "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := json.Marshal(ev)
		pad := max(benchEventSize-len(data)-len(`,"payload":{"pad":""}`), 0)
		ev.Payload = json.RawMessage(`{"pad":"` + strings.Repeat("x", pad) + `"}`)
		evs[i] = ev
	}
	return evs
}

// share splits n events over writers.
func share(n, writers, w int) int {
	if w < n%writers {
		return n/writers + 1
	}
	return n / writers
}

// runWriters prepares each writer, then times them running together.
func runWriters(b *testing.B, writers int, prepare func(w, n int) func() error) {
	b.Helper()
	work := make([]func() error, writers)
	for w := range writers {
		work[w] = prepare(w, share(b.N, writers, w))
	}
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() { errs <- work[w]() })
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppend(b *testing.B) {
	for _, shape := range appendShapes {
		b.Run(shape.name, func(b *testing.B) {
			srv := eventstest.Start(b)
			// Counted, as the server's and agents' logs are.
			m, err := events.NewMetrics(prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			runWriters(b, shape.writers, func(w, n int) func() error {
				log, err := events.NewLog(srv.Connect(b), "", events.WithMetrics(m))
				if err != nil {
					b.Fatal(err)
				}
				if shape.pipelined {
					return pipelinedAppends(log, benchEvents(b, w, pipelineWindow, n))
				}
				return syncAppends(log, benchEvents(b, w, syncSubjects, n))
			})
		})
	}
}

func syncAppends(log *events.Log, evs []*events.Event) func() error {
	return func() error {
		ctx := context.Background()
		version := map[string]uint64{}
		for _, ev := range evs {
			name := ev.Object.Name
			seq, err := log.Append(ctx, ev, version[name])
			if err != nil {
				return err
			}
			version[name] = seq
		}
		return nil
	}
}

func pipelinedAppends(log *events.Log, evs []*events.Event) func() error {
	return func() error {
		ctx := context.Background()
		version := map[string]uint64{}
		p := log.Pipeline()
		for start := 0; start < len(evs); start += pipelineWindow {
			for _, ev := range evs[start:min(start+pipelineWindow, len(evs))] {
				if err := p.Append(ev, version[ev.Object.Name]); err != nil {
					return err
				}
			}
			results, err := p.Wait(ctx)
			if err != nil {
				return err
			}
			for _, r := range results {
				if r.Err != nil {
					return r.Err
				}
				version[r.Event.Object.Name] = r.Seq
			}
		}
		return nil
	}
}

// rawMsgs marshals the events once, outside the timer: the floor pays no encoding.
func rawMsgs(b *testing.B, evs []*events.Event) []*nats.Msg {
	msgs := make([]*nats.Msg, len(evs))
	for i, ev := range evs {
		data, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = &nats.Msg{Subject: ev.Object.Subject(), Data: data}
	}
	return msgs
}

func BenchmarkRawPublish(b *testing.B) {
	for _, shape := range appendShapes {
		b.Run(shape.name, func(b *testing.B) {
			srv := eventstest.Start(b)
			runWriters(b, shape.writers, func(w, n int) func() error {
				js, err := jetstream.New(srv.Connect(b), jetstream.WithPublishAsyncMaxPending(4096))
				if err != nil {
					b.Fatal(err)
				}
				if shape.pipelined {
					return rawPipelined(js, rawMsgs(b, benchEvents(b, w, pipelineWindow, n)))
				}
				return rawSync(js, rawMsgs(b, benchEvents(b, w, syncSubjects, n)))
			})
		})
	}
}

func rawSync(js jetstream.JetStream, msgs []*nats.Msg) func() error {
	return func() error {
		ctx := context.Background()
		version := map[string]uint64{}
		for _, m := range msgs {
			ack, err := js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(version[m.Subject]))
			if err != nil {
				return err
			}
			version[m.Subject] = ack.Sequence
		}
		return nil
	}
}

func rawPipelined(js jetstream.JetStream, msgs []*nats.Msg) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		version := map[string]uint64{}
		futures := make([]jetstream.PubAckFuture, 0, pipelineWindow)
		for start := 0; start < len(msgs); start += pipelineWindow {
			futures = futures[:0]
			for _, m := range msgs[start:min(start+pipelineWindow, len(msgs))] {
				f, err := js.PublishMsgAsync(m, jetstream.WithExpectLastSequencePerSubject(version[m.Subject]))
				if err != nil {
					return err
				}
				futures = append(futures, f)
			}
			for _, f := range futures {
				select {
				case ack := <-f.Ok():
					version[f.Msg().Subject] = ack.Sequence
				case err := <-f.Err():
					return err
				case <-ctx.Done():
					return fmt.Errorf("no ack for %s: %w", f.Msg().Subject, ctx.Err())
				}
			}
		}
		return nil
	}
}
