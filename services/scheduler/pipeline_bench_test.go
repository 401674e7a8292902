package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/controlplane"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// BenchmarkBindPipeline measures the whole path the issue names: 10,000 pods
// appended (as a controller appends them) to the last pod.bound event, onto 1,000
// hollow nodes (Node objects with a Ready status and no runtime), through the real
// log, the scheduler's projection and its pipelined bindings. The floor beside it is
// the same number of guarded, pipelined appends of bare events in the same run: a
// binding cannot cost less than the append that records it.
//
//	go test -run=NONE -bench=BindPipeline -benchtime=1x ./services/scheduler
func BenchmarkBindPipeline(b *testing.B) {
	const nodes, pods = 1000, 10000
	for i := 0; i < b.N; i++ {
		ctx := context.Background()
		srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: b.TempDir(), Port: -1, NoWorkloadControllers: true, NodeGrace: time.Hour,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		log := srv.Log()
		hollowNodes(b, log, nodes)
		start := time.Now()
		first := appendPods(b, log, pods)
		waitBindings(b, log, first, pods)
		elapsed := time.Since(start)

		floorStart := time.Now()
		p := log.Pipeline()
		for j := 0; j < pods; j++ {
			ev, _ := events.New("configmap.created", events.Ref{Kind: "ConfigMap", Namespace: "floor", Name: fmt.Sprintf("f-%d", j)}, "bench", map[string]int{"n": j})
			_ = p.Append(ev, 0)
			if p.Len() >= 512 {
				mustSettle(b, p)
			}
		}
		mustSettle(b, p)
		floor := time.Since(floorStart)
		srv.Shutdown()
		b.ReportMetric(float64(pods)/elapsed.Seconds(), "pods-bound/s")
		b.ReportMetric(float64(pods)/floor.Seconds(), "floor-appends/s")
		b.ReportMetric(floor.Seconds()/elapsed.Seconds(), "ratio")
	}
}

func mustSettle(b *testing.B, p *events.Pipeline) {
	res, err := p.Wait(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// hollowNodes registers n Ready nodes of 32 cpu, 128Gi, 110 pods, in 4 zones.
func hollowNodes(b *testing.B, log *events.Log, n int) {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"), corev1.ResourcePods: resource.MustParse("110")}
	status, _ := json.Marshal(corev1.NodeStatus{Capacity: alloc, Allocatable: alloc,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}})
	p := log.Pipeline()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("hollow-%04d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("n-" + name),
			Labels: map[string]string{"topology.kubernetes.io/zone": fmt.Sprintf("z%d", i%4)}}}
		raw, _ := json.Marshal(node)
		ev, _ := events.New("node.created", events.Ref{Kind: "Node", Name: name}, "system:node:"+name, &object.Change{Object: raw})
		_ = p.Append(ev, 0)
	}
	res, err := p.Wait(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		ev, _ := events.New("node.status", r.Event.Object, r.Event.Actor, &object.StatusChange{Status: status})
		_ = p.Append(ev, res[i].Seq)
	}
	mustSettle(b, p)
}

// appendPods appends n pods of 10 owners, pipelined, and returns the first's sequence.
func appendPods(b *testing.B, log *events.Log, n int) uint64 {
	var first uint64
	p := log.Pipeline()
	for i := 0; i < n; i++ {
		owner := fmt.Sprintf("rs-%d", i%10)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%05d", owner, i), Namespace: "default", UID: types.UID(fmt.Sprintf("p-%d", i)),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner, UID: types.UID(owner), Controller: ptr(true)}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}}
		object.Default(pod)
		raw, _ := json.Marshal(pod)
		ev, _ := events.New("pod.created", events.Ref{Kind: "Pod", Namespace: "default", Name: pod.Name}, "system:replicaset-controller", &object.Change{Object: raw})
		_ = p.Append(ev, 0)
		if p.Len() >= 512 {
			res, err := p.Wait(context.Background())
			if err != nil || res[0].Err != nil {
				b.Fatal(errors.Join(err, res[0].Err))
			}
			if first == 0 {
				first = res[0].Seq
			}
		}
	}
	mustSettle(b, p)
	return first
}

func waitBindings(b *testing.B, log *events.Log, from uint64, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cur, err := log.Read(ctx, events.ReadOptions{From: from, Subjects: []string{events.KindSubjects("Pod", "", false)}})
	if err != nil {
		b.Fatal(err)
	}
	defer cur.Close()
	bound := 0
	for bound < n {
		rec, err := cur.Next(ctx)
		if err != nil {
			b.Fatalf("after %d bindings: %v", bound, err)
		}
		ev, err := rec.Decode()
		if err == nil && ev.Type == "pod.bound" {
			bound++
		}
	}
}

func ptr[T any](v T) *T { return &v }
