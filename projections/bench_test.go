package projections_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
)

// Replay benchmarks share one log of replayEvents realistic events, appended once
// per benchmark process: 10,000 pods in 20 namespaces, each created and then
// updated 9 times, with ~1 KB spec payloads. BenchmarkRebuild folds them into a
// fresh projection; BenchmarkRawReplay reads them with a bare ordered consumer
// (the floor); BenchmarkCursorReplay isolates wake's reader and envelope decoding.
const (
	replayEvents  = 100_000
	replayObjects = 10_000
)

var replay struct {
	once sync.Once
	err  error
	dir  string
	ns   *server.Server
	nc   *nats.Conn
	log  *events.Log
	last uint64
}

// stopReplay stops the shared log's server, if a benchmark started it.
func stopReplay() {
	if replay.nc != nil {
		replay.nc.Close()
	}
	if replay.ns != nil {
		replay.ns.Shutdown()
		replay.ns.WaitForShutdown()
	}
	if replay.dir != "" {
		os.RemoveAll(replay.dir)
	}
}

// replayLog returns the shared log, starting its server and appending the events
// on first use. TestMain stops it.
func replayLog(b *testing.B) (*events.Log, uint64) {
	b.Helper()
	replay.once.Do(func() { replay.err = setupReplay() })
	if replay.err != nil {
		b.Fatal(replay.err)
	}
	return replay.log, replay.last
}

func setupReplay() error {
	var err error
	if replay.dir, err = os.MkdirTemp("", "wake-replay-bench-"); err != nil {
		return err
	}
	replay.ns, err = server.NewServer(&server.Options{ServerName: "bench", Host: "127.0.0.1", Port: -1,
		JetStream: true, StoreDir: replay.dir, MaxPayload: 8 << 20, NoSigs: true, NoLog: true})
	if err != nil {
		return err
	}
	go replay.ns.Start()
	if !replay.ns.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("nats server not ready")
	}
	if replay.nc, err = nats.Connect(replay.ns.ClientURL()); err != nil {
		return err
	}
	if replay.log, err = events.NewLog(replay.nc, ""); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := replay.log.Ensure(ctx, events.StreamConfig{}); err != nil {
		return err
	}
	version := make([]uint64, replayObjects)
	p := replay.log.Pipeline()
	for i := range replayEvents {
		obj := i % replayObjects
		typ := "pod.updated"
		if i < replayObjects {
			typ = "pod.created"
		}
		ref := events.Ref{Kind: "pod", Namespace: fmt.Sprintf("team-%02d", obj%20), Name: fmt.Sprintf("web-%05d", obj)}
		ev, err := events.New(typ, ref, "user:alice", podSpec(obj, i/replayObjects))
		if err != nil {
			return err
		}
		if err := p.Append(ev, version[obj]); err != nil {
			return err
		}
		if p.Len() == pipelineBatch || i == replayEvents-1 {
			results, err := p.Wait(ctx)
			if err != nil {
				return err
			}
			for _, r := range results {
				if r.Err != nil {
					return r.Err
				}
				version[(r.Seq-1)%replayObjects] = r.Seq // one writer: seq i+1 is event i
			}
		}
	}
	replay.last, err = replay.log.LastSeq(ctx)
	if err == nil && replay.last != replayEvents {
		err = fmt.Errorf("log holds %d events, want %d", replay.last, replayEvents)
	}
	return err
}

const pipelineBatch = 2000 // < replayObjects: a window never holds two events of one object

// podSpec is a ~1 KB pod-like payload.
func podSpec(obj, generation int) map[string]any {
	env := make([]map[string]string, 8)
	for i := range env {
		env[i] = map[string]string{"name": fmt.Sprintf("SETTING_%d", i), "value": strings.Repeat("v", 40)}
	}
	return map[string]any{
		"metadata": map[string]any{"labels": map[string]string{"app": "web", "tier": "frontend", "pod": fmt.Sprint(obj)},
			"annotations": map[string]string{"generation": fmt.Sprint(generation)}},
		"spec": map[string]any{"containers": []map[string]any{{
			"name": "web", "image": "registry.example.com/team/web:1.2." + fmt.Sprint(generation),
			"ports": []map[string]int{{"containerPort": 8080}}, "env": env,
			"resources": map[string]any{"requests": map[string]string{"cpu": "100m", "memory": "128Mi"}},
		}}},
	}
}

// benchFold does what the query service's fold does per event: read the object's
// previous state, decode it, encode the next one (~1 KB) and write it with an entry
// in the object's event index.
func benchFold(s projections.State, ev *events.Event) error {
	type stored struct {
		Generation int             `json:"generation"`
		LastSeq    uint64          `json:"lastSeq"`
		Spec       json.RawMessage `json:"spec"`
	}
	key := []byte("o\x00" + ev.Object.Namespace + "\x00" + ev.Object.Name)
	var prev stored
	raw, found, err := s.Get(key)
	if err != nil {
		return err
	}
	if found {
		if err := json.Unmarshal(raw, &prev); err != nil {
			return err
		}
	}
	data, err := json.Marshal(stored{Generation: prev.Generation + 1, LastSeq: ev.Seq, Spec: ev.Payload})
	if err != nil {
		return err
	}
	if err := s.Set(key, data); err != nil {
		return err
	}
	summary, _ := json.Marshal(map[string]any{"seq": ev.Seq, "id": ev.ID, "type": ev.Type, "time": ev.Time, "actor": ev.Actor})
	ek := binary.BigEndian.AppendUint64(append([]byte("e\x00"), key[2:]...), ev.Seq)
	return s.Set(ek, summary)
}

func reportRate(b *testing.B, perOp int) {
	b.ReportMetric(float64(perOp*b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkRebuild(b *testing.B) {
	log, last := replayLog(b)
	p := projections.Projection{Name: "bench", Version: 1, Fold: benchFold}
	// Measured, as the server's projections are.
	m, err := projections.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		dir := b.TempDir()
		r, err := projections.Open(dir, p, log, projections.WithMetrics(m))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Minute)
		err = r.WaitFor(wctx, last)
		wcancel()
		b.StopTimer()
		cancel()
		if rerr := <-done; rerr != nil {
			b.Fatal(rerr)
		}
		if err != nil {
			b.Fatal(err)
		}
		if st := r.Status(); st.Folded != replayEvents || st.Rejected != 0 {
			b.Fatalf("status %+v", st)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dir)
		b.StartTimer()
	}
	reportRate(b, replayEvents)
}

func BenchmarkRawReplay(b *testing.B) {
	log, last := replayLog(b)
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cons, err := log.JetStream().OrderedConsumer(ctx, events.DefaultStream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		iter, err := cons.Messages(jetstream.PullMaxMessages(2048))
		if err != nil {
			b.Fatal(err)
		}
		bytes := 0
		for n := uint64(0); n < last; n++ {
			msg, err := iter.Next(jetstream.NextContext(ctx))
			if err != nil {
				b.Fatal(err)
			}
			bytes += len(msg.Data())
		}
		iter.Stop()
		cancel()
		b.SetBytes(int64(bytes))
	}
	reportRate(b, replayEvents)
}

func BenchmarkCursorReplay(b *testing.B) {
	log, last := replayLog(b)
	for _, decode := range []bool{false, true} {
		name := "read"
		if decode {
			name = "read+decode"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				cur, err := log.Read(ctx, events.ReadOptions{From: 1})
				if err != nil {
					b.Fatal(err)
				}
				for n := uint64(0); n < last; n++ {
					rec, err := cur.Next(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if decode {
						if _, err := rec.Decode(); err != nil {
							b.Fatal(err)
						}
					}
				}
				cur.Close()
				cancel()
			}
			reportRate(b, replayEvents)
		})
	}
}
