package controlplane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

const testActor = "test:metrics"

// scrape reads the server's /metrics over HTTP.
func scrape(t *testing.T, srv *controlplane.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(srv.HTTPURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// value returns the value of the series of name whose labels include labels
// (name_count for a histogram's observations), and whether it exists.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// eventually scrapes until check returns "" or 10s pass.
func eventually(t *testing.T, srv *controlplane.Server, check func(map[string]*dto.MetricFamily) string) map[string]*dto.MetricFamily {
	t.Helper()
	var why string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mfs := scrape(t, srv)
		if why = check(mfs); why == "" {
			return mfs
		}
	}
	t.Fatal(why)
	return nil
}

// appendObject appends a created event of obj (and a status event when status is
// not nil) through the server's own log, as an agent or a controller would.
func appendObject(t *testing.T, srv *controlplane.Server, kind, namespace, name string, obj any, status any) {
	t.Helper()
	ctx := context.Background()
	k, _ := object.ByKind(kind)
	ref := events.Ref{Kind: kind, Namespace: namespace, Name: name}
	raw, _ := json.Marshal(obj)
	ev, err := events.New(object.EventType(k, object.Created), ref, testActor, &object.Change{Object: raw})
	if err != nil {
		t.Fatal(err)
	}
	version, err := srv.Log().Append(ctx, ev, 0)
	if err != nil {
		t.Fatal(err)
	}
	if status == nil {
		return
	}
	st, _ := json.Marshal(status)
	ev, _ = events.New(object.EventType(k, object.Status), ref, testActor, &object.StatusChange{Status: st})
	if _, err := srv.Log().Append(ctx, ev, version); err != nil {
		t.Fatal(err)
	}
}

func createPods(t *testing.T, srv *controlplane.Server, n int) {
	for i := range n {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "default", UID: uuid.NewUUID()},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox"}}}}
		pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
		object.Default(pod)
		appendObject(t, srv, "Pod", "default", pod.Name, pod, nil)
	}
}

func TestMetricsShowAppendsFoldsSchedulingAndCensus(t *testing.T) {
	srv := startIn(t, t.TempDir())
	const pods = 5
	controlplanetest.RegisterNode(t, srv.Log(), "n1", "4")
	createPods(t, srv, pods)

	mfs := eventually(t, srv, func(mfs map[string]*dto.MetricFamily) string {
		if v, _ := value(mfs, "wake_scheduler_bindings_total"); v != pods {
			return fmt.Sprintf("bindings = %v, want %d", v, pods)
		}
		if v, _ := value(mfs, "wake_pods", "phase", "Pending"); v != pods {
			return fmt.Sprintf("pending pods = %v, want %d", v, pods)
		}
		if v, _ := value(mfs, "wake_nodes", "ready", "True"); v != 1 {
			return fmt.Sprintf("ready nodes = %v, want 1", v)
		}
		for _, m := range mfs["wake_projection_lag_sequences"].GetMetric() {
			if m.GetGauge().GetValue() != 0 {
				return fmt.Sprintf("lag %v = %v, want 0", m.GetLabel(), m.GetGauge().GetValue())
			}
		}
		if len(mfs["wake_projection_lag_sequences"].GetMetric()) == 0 {
			return "no projection lag series"
		}
		// Lag is 0 once a runner has folded what its consumer delivered, while
		// an append may still be on its way: wait until the query projection
		// has folded every event appended so far.
		var appended float64
		for _, m := range mfs["wake_events_appended_total"].GetMetric() {
			appended += m.GetCounter().GetValue()
		}
		if v, _ := value(mfs, "wake_projection_checkpoint", "projection", "query"); v < appended {
			return fmt.Sprintf("query checkpoint %v, %v events appended", v, appended)
		}
		return ""
	})

	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"actor", testActor, "type", "pod.created"}, pods},
		{[]string{"actor", "system:node:n1", "type", "node.created"}, 1},
		{[]string{"actor", "system:node:n1", "type", "node.status"}, 1},
		{[]string{"actor", "system:scheduler", "type", "pod.bound"}, pods},
		{[]string{"actor", controlplane.Actor, "type", "namespace.created"}, 1},
	} {
		if v, _ := value(mfs, "wake_events_appended_total", c.labels...); v != c.want {
			t.Errorf("wake_events_appended_total%v = %v, want %v", c.labels, v, c.want)
		}
	}
	var appended float64
	for _, m := range mfs["wake_events_appended_total"].GetMetric() {
		appended += m.GetCounter().GetValue()
	}
	// The query projection folds every event; every event of this test was
	// appended by the server's own log.
	if v, _ := value(mfs, "wake_projection_folded_events_total", "projection", "query"); v < appended {
		t.Errorf("query projection folded %v events, want at least the %v appended", v, appended)
	}
	if v, _ := value(mfs, "wake_projection_folded_events_total", "projection", "scheduler"); v < pods+2 {
		t.Errorf("scheduler projection folded %v events, want at least %d", v, pods+2)
	}
	if v, _ := value(mfs, "wake_projection_checkpoint", "projection", "query"); v < appended {
		t.Errorf("query checkpoint = %v, want at least %v", v, appended)
	}
	if v, _ := value(mfs, "wake_scheduler_scheduling_latency_seconds"); v != pods {
		t.Errorf("scheduling latency observations = %v, want %d", v, pods)
	}
	if v, ok := value(mfs, "wake_projection_commit_seconds", "projection", "query"); !ok || v == 0 {
		t.Errorf("query commit observations = %v, want some", v)
	}
	if v, ok := value(mfs, "wake_reconcile_duration_seconds", "controller", "dispatcher"); !ok || v == 0 {
		t.Errorf("dispatcher reconcile observations = %v, want some", v)
	}
	if v, _ := value(mfs, "wake_projection_rejected_events_total", "projection", "query"); v != 0 {
		t.Errorf("query rejections = %v, want 0", v)
	}
}

func TestMetricsOfTwoServersInOneProcessAreApart(t *testing.T) {
	a, b := startIn(t, t.TempDir()), startIn(t, t.TempDir())
	controlplanetest.RegisterNode(t, a.Log(), "n1", "4")
	createPods(t, a, 3)
	eventually(t, a, func(mfs map[string]*dto.MetricFamily) string {
		if v, _ := value(mfs, "wake_pods", "phase", "Pending"); v != 3 {
			return fmt.Sprintf("server a: pending pods = %v, want 3", v)
		}
		return ""
	})
	createPods(t, b, 1)
	mfs := eventually(t, b, func(mfs map[string]*dto.MetricFamily) string {
		if v, _ := value(mfs, "wake_pods", "phase", "Pending"); v != 1 {
			return fmt.Sprintf("server b: pending pods = %v, want 1", v)
		}
		if v, _ := value(mfs, "wake_scheduler_unschedulable_total"); v != 1 {
			return fmt.Sprintf("server b: unschedulable decisions = %v, want 1 (no nodes)", v)
		}
		return ""
	})
	if v, _ := value(mfs, "wake_events_appended_total", "actor", testActor, "type", "pod.created"); v != 1 {
		t.Errorf("server b: pods created = %v, want 1", v)
	}
	if v, _ := value(mfs, "wake_nodes", "ready", "True"); v != 0 {
		t.Errorf("server b: ready nodes = %v, want 0 (the node is server a's)", v)
	}
}
