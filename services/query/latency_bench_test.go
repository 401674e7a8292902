package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/query"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
)

// benchCluster is one control plane holding benchObjects Deployments (no workload
// controllers: the figures are the query service's alone), shared by the
// benchmarks of this file.
const benchObjects = 10000

var (
	benchOnce sync.Once
	benchSrv  *controlplane.Server
	benchErr  error
)

func cluster(b *testing.B) *controlplane.Server {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wake-query-bench-")
		if err != nil {
			benchErr = err
			return
		}
		ctx := context.Background()
		benchSrv, benchErr = controlplane.Start(ctx, controlplane.Config{DataDir: dir, Port: -1, NoWorkloadControllers: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if benchErr != nil {
			return
		}
		benchErr = fill(ctx, benchSrv)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchSrv
}

// fill appends benchObjects realistic Deployments through pipelined, guarded appends.
func fill(ctx context.Context, s *controlplane.Server) error {
	docs, err := object.Decode("bench.yaml", []byte(benchDeployment))
	if err != nil {
		return err
	}
	k := docs[0].Kind
	p := s.Log().Pipeline()
	for i := 0; i < benchObjects; i++ {
		d := docs[0].Object.DeepCopyObject().(object.Object)
		d.SetName(fmt.Sprintf("web-%05d", i))
		d.SetNamespace("default")
		d.SetUID(types.UID(fmt.Sprintf("uid-%d", i)))
		raw, _ := json.Marshal(d)
		ev, err := events.New(object.EventType(k, object.Created), events.Ref{Kind: k.Kind, Namespace: "default", Name: d.GetName()}, "user:bench", &object.Change{Object: raw})
		if err != nil {
			return err
		}
		if err := p.Append(ev, 0); err != nil {
			return err
		}
		if p.Len() >= 1000 {
			if _, err := p.Wait(ctx); err != nil {
				return err
			}
		}
	}
	res, err := p.Wait(ctx)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	last, err := s.Log().LastSeq(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return s.Runners()[0].WaitFor(wctx, last)
}

// BenchmarkGet measures `get` of one Deployment over NATS (read-your-writes
// included: each request checks the log's last sequence), beside the floor: a bare
// NATS request/reply carrying the same bytes.
func BenchmarkGet(b *testing.B) {
	s := cluster(b)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	qc := query.NewClient(nc)
	k, _ := object.ByKind("Deployment")
	ctx := context.Background()
	st, err := qc.Get(ctx, k, "default", "web-00042")
	if err != nil {
		b.Fatal(err)
	}
	size, _ := st.Encode()
	b.Run("wake", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := qc.Get(ctx, k, "default", fmt.Sprintf("web-%05d", i%benchObjects)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/get")
	})
	b.Run("floor-nats-request", func(b *testing.B) {
		sub, _ := nc.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(size) })
		defer sub.Unsubscribe()
		for i := 0; i < b.N; i++ {
			if _, err := nc.Request("bench.echo", []byte("x"), 5*time.Second); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/get")
	})
}

// BenchmarkList measures a list of all 10,000 Deployments over NATS, decoded into
// typed objects, beside the floor: the same bytes in the same chunks over NATS.
func BenchmarkList(b *testing.B) {
	s := cluster(b)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	qc := query.NewClient(nc)
	k, _ := object.ByKind("Deployment")
	ctx := context.Background()
	b.Run("wake", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			objs, _, err := qc.List(ctx, k, "default", "")
			if err != nil || len(objs) != benchObjects {
				b.Fatalf("list: %d objects, %v", len(objs), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/list")
	})
	b.Run("wake-selector-none-match", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := qc.List(ctx, k, "default", "app=nothing"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/list")
	})
	b.Run("floor-nats-chunks", func(b *testing.B) {
		st, _ := qc.Get(ctx, k, "default", "web-00001")
		one, _ := st.Encode()
		perChunk := (512 << 10) / len(one)
		chunk := make([]byte, perChunk*len(one))
		chunks := benchObjects / perChunk
		sub, _ := nc.Subscribe("bench.chunks", func(m *nats.Msg) {
			for i := 0; i <= chunks; i++ {
				_ = nc.Publish(m.Reply, chunk)
			}
		})
		defer sub.Unsubscribe()
		for i := 0; i < b.N; i++ {
			inbox := nats.NewInbox()
			in, _ := nc.SubscribeSync(inbox)
			_ = nc.PublishRequest("bench.chunks", inbox, nil)
			for j := 0; j <= chunks; j++ {
				if _, err := in.NextMsg(5 * time.Second); err != nil {
					b.Fatal(err)
				}
			}
			_ = in.Unsubscribe()
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/list")
	})
}

const benchDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: frontend}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web, tier: frontend}
    spec:
      containers:
      - name: web
        image: registry.example.org/team/web:1.2.3
        ports: [{containerPort: 8080, name: http}]
        env: [{name: MODE, value: production}, {name: LOG_LEVEL, value: info}]
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 500m, memory: 256Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
`

// BenchmarkGetAt measures `get --at` of one Deployment among 10,000: at a moment
// already built (cached), and at a different moment each time, built from a
// snapshot of the 10,000 objects plus up to 1,000 events after it. The floor of
// the uncached case is reading that snapshot's bytes from the object store.
func BenchmarkGetAt(b *testing.B) {
	s := cluster(b)
	ctx := context.Background()
	var queryRunner *projections.Runner
	for _, r := range s.Runners() {
		if r.Name() == "query" {
			queryRunner = r
		}
	}
	snap, err := queryRunner.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	const after = 1000
	if err := scaleAll(ctx, s, after); err != nil {
		b.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	qc := query.NewClient(nc)
	k, _ := object.ByKind("Deployment")
	b.Run("cached", func(b *testing.B) {
		at := query.At{Seq: snap.Seq + after/2}
		for i := 0; i < b.N; i++ {
			if _, _, err := qc.GetAt(ctx, k, "default", fmt.Sprintf("web-%05d", i%benchObjects), at); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/get")
	})
	b.Run("uncached-from-snapshot", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			at := query.At{Seq: snap.Seq + 1 + uint64(i*7919)%after}
			if _, _, err := qc.GetAt(ctx, k, "default", "web-00042", at); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/get")
	})
	b.Run("floor-snapshot-read", func(b *testing.B) {
		obs, err := s.Log().JetStream().ObjectStore(ctx, projections.SnapshotBucket)
		if err != nil {
			b.Fatal(err)
		}
		name := snap.ObjectName()
		for i := 0; i < b.N; i++ {
			if _, err := obs.GetBytes(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/get")
	})
}

// scaleAll appends n updates of the benchmark's Deployments (replicas changed).
func scaleAll(ctx context.Context, s *controlplane.Server, n int) error {
	k, _ := object.ByKind("Deployment")
	qc := query.NewClient(s.Conn())
	p := s.Log().Pipeline()
	for i := 0; i < n; i++ {
		st, err := qc.Get(ctx, k, "default", fmt.Sprintf("web-%05d", i%benchObjects))
		if err != nil {
			return err
		}
		d := st.Object.(*appsv1.Deployment).DeepCopy()
		replicas := int32(7)
		d.Spec.Replicas = &replicas
		d.Status = appsv1.DeploymentStatus{}
		raw, _ := json.Marshal(d)
		ev, err := events.New(object.EventType(k, object.Updated), events.Ref{Kind: k.Kind, Namespace: "default", Name: d.Name}, "user:bench", &object.Change{Object: raw})
		if err != nil {
			return err
		}
		if err := p.Append(ev, st.Version); err != nil {
			return err
		}
	}
	res, err := p.Wait(ctx)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}
