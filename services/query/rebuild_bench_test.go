package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/query"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
)

// BenchmarkQueryRebuild rebuilds the query projection from a log of
// $WAKE_BENCH_EVENTS events (default 1,000,000): Deployments, 50 events each (a
// create, then updates of replicas and image), ~1.3 KB each. A snapshot is taken
// with all but the last 10,000 events folded, as a server snapshotting every
// 10,000 events would have.
//
//	from-log       fold every event into an empty directory
//	from-snapshot  restore the snapshot, then fold the events after it
//	floor-replay   read every event with a bare ordered consumer (the floor of from-log)
//	floor-snapshot read the snapshot's bytes from the object store (the floor of the restore)
//
// go test -run=NONE -bench=QueryRebuild -benchtime=1x -timeout=60m ./services/query
func BenchmarkQueryRebuild(b *testing.B) {
	total := 1_000_000
	if s := os.Getenv("WAKE_BENCH_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("WAKE_BENCH_EVENTS=%q: give a number of events, at least 1000", s)
		}
		total = n
	}
	const perObject = 50
	tail := min(10_000, total/10)
	srv := eventstest.Start(b)
	ctx := context.Background()
	start := time.Now()
	objects := total / perObject
	gen := newDeploymentEvents(b, objects)
	appendDeploymentEvents(b, srv.Log, gen, 0, total-tail)
	store, err := projections.OpenSnapshots(ctx, srv.Log.JetStream())
	if err != nil {
		b.Fatal(err)
	}
	r, stop := runQuery(b, srv.Log, projections.WithSnapshots(store, 0))
	waitQuery(b, r, uint64(total-tail))
	info, err := r.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	stop()
	appendDeploymentEvents(b, srv.Log, gen, total-tail, total)
	b.Logf("log of %d events (%d Deployments), snapshot at %d with %d keys (%.1f MB), set up in %s",
		total, objects, info.Seq, info.Keys, float64(info.Size)/1e6, time.Since(start).Round(time.Second))
	last := uint64(total)

	rebuild := func(b *testing.B, opts ...projections.Option) {
		for range b.N {
			r, stop := runQuery(b, srv.Log, opts...)
			waitQuery(b, r, last)
			b.StopTimer()
			st := r.Status()
			stop()
			if st.Rejected != 0 {
				b.Fatalf("%d events rejected", st.Rejected)
			}
			b.ReportMetric(float64(st.Folded), "folded/op")
			b.StartTimer()
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("from-log", func(b *testing.B) { rebuild(b) })
	b.Run("from-snapshot", func(b *testing.B) { rebuild(b, projections.WithSnapshots(store, 0)) })
	b.Run("floor-replay", func(b *testing.B) {
		for range b.N {
			cons, err := srv.Log.JetStream().OrderedConsumer(ctx, events.DefaultStream, jetstream.OrderedConsumerConfig{})
			if err != nil {
				b.Fatal(err)
			}
			iter, err := cons.Messages(jetstream.PullMaxMessages(2048))
			if err != nil {
				b.Fatal(err)
			}
			for n := uint64(0); n < last; n++ {
				if _, err := iter.Next(); err != nil {
					b.Fatal(err)
				}
			}
			iter.Stop()
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("floor-snapshot", func(b *testing.B) {
		obs, err := srv.Log.JetStream().ObjectStore(ctx, projections.SnapshotBucket)
		if err != nil {
			b.Fatal(err)
		}
		name := info.ObjectName()
		for range b.N {
			data, err := obs.GetBytes(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
		}
	})
}

// runQuery runs the query projection in a fresh directory; stop stops and closes it.
func runQuery(b *testing.B, log *events.Log, opts ...projections.Option) (*projections.Runner, func()) {
	b.Helper()
	dir := b.TempDir()
	r, err := projections.Open(dir, query.Projection(), log, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, func() {
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		os.RemoveAll(dir)
	}
}

func waitQuery(b *testing.B, r *projections.Runner, seq uint64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := r.WaitFor(ctx, seq); err != nil {
		b.Fatal(err)
	}
}

// deploymentEvents makes the i-th event of the benchmark's log: round i/objects
// of object i%objects, a create in round 0 and an update after.
type deploymentEvents struct {
	objects int
	base    *appsv1.Deployment
	kind    *object.Kind
	version []uint64
}

func newDeploymentEvents(b *testing.B, objects int) *deploymentEvents {
	docs, err := object.Decode("bench.yaml", []byte(benchDeployment))
	if err != nil {
		b.Fatal(err)
	}
	return &deploymentEvents{objects: objects, base: docs[0].Object.(*appsv1.Deployment), kind: docs[0].Kind,
		version: make([]uint64, objects)}
}

func (g *deploymentEvents) event(i int) (*events.Event, uint64, error) {
	obj, round := i%g.objects, i/g.objects
	d := g.base.DeepCopy()
	d.Name, d.Namespace = fmt.Sprintf("web-%05d", obj), fmt.Sprintf("team-%02d", obj%20)
	d.UID = types.UID(fmt.Sprintf("uid-%d", obj))
	replicas := int32(1 + round%5)
	d.Spec.Replicas = &replicas
	d.Spec.Template.Spec.Containers[0].Image = fmt.Sprintf("registry.example.org/team/web:1.%d", round)
	verb := object.Updated
	if round == 0 {
		verb = object.Created
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, 0, err
	}
	ev, err := events.New(object.EventType(g.kind, verb), events.Ref{Kind: g.kind.Kind, Namespace: d.Namespace, Name: d.Name},
		"user:bench", &object.Change{Object: raw})
	return ev, g.version[obj], err
}

// appendDeploymentEvents appends events [from, to) through pipelined, guarded
// appends (a window of 2,000 never holds two events of one object).
func appendDeploymentEvents(b *testing.B, log *events.Log, g *deploymentEvents, from, to int) {
	b.Helper()
	ctx := context.Background()
	p := log.Pipeline()
	objs := make([]int, 0, 2000)
	flush := func() {
		res, err := p.Wait(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for j, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			g.version[objs[j]] = r.Seq
		}
		objs = objs[:0]
	}
	for i := from; i < to; i++ {
		ev, version, err := g.event(i)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Append(ev, version); err != nil {
			b.Fatal(err)
		}
		objs = append(objs, i%g.objects)
		if len(objs) == min(2000, g.objects) {
			flush()
		}
	}
	flush()
}
