package dispatch_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/dispatch"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func podEvent(t *testing.T, verb string, payload any) *events.Event {
	t.Helper()
	k, _ := object.ByKind("Pod")
	ev, err := events.New(object.EventType(k, verb), events.Ref{Kind: "Pod", Namespace: "shop", Name: "web"}, "test", payload)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// The dispatcher on the shared loop, over real JetStream: a bound pod is copied
// into its node's inbox by the first (full) round, and its deletion after it from
// the refs the deletion's commit touched (no resync comes in the test's time),
// each once.
func TestDispatcherForwardsABoundPodIntoItsNodesInbox(t *testing.T) {
	log := eventstest.Start(t).Log
	ctx := context.Background()
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid-1"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "wake.local/hostname-web:1"}}}}
	object.Default(p)
	raw, _ := json.Marshal(p)
	v, err := log.Append(ctx, podEvent(t, object.Created, &object.Change{Object: raw}), 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err = log.Append(ctx, podEvent(t, object.Bound, &object.Binding{Node: "n1"}), v)
	if err != nil {
		t.Fatal(err)
	}
	ctl := dispatch.New(log, slog.New(slog.NewTextHandler(io.Discard, nil)), dispatch.WithResync(time.Hour, time.Hour))
	controlplanetest.RunController(t, log, dispatch.Projection(), ctl)
	inbox := events.Prefix + ".node.n1.>"
	eventstest.Eventually(t, "pod.assigned in node n1's inbox (the first, full round)", func() bool {
		return len(eventstest.ReadAll(t, log, inbox)) == 1
	})
	// The deletion reaches the node only through the refs its commit touched.
	zero := int64(0)
	if _, err := log.Append(ctx, podEvent(t, object.Deleting, &object.Deletion{UID: "uid-1", GracePeriodSeconds: &zero}), v); err != nil {
		t.Fatal(err)
	}
	eventstest.Eventually(t, "the deleting pod's stop in node n1's inbox", func() bool {
		return len(eventstest.ReadAll(t, log, inbox)) >= 2
	})
	time.Sleep(300 * time.Millisecond) // rounds that would append twice
	got := eventstest.ReadAll(t, log, inbox)
	if len(got) != 2 || got[0].Type != "pod."+object.Assigned || got[1].Type != "pod."+object.Assigned {
		t.Fatalf("node n1's inbox holds %d events (%v), want two pod.assigned", len(got), got)
	}
}
