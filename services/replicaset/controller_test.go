package replicaset_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/reconcile"
	"github.com/wake-run/wake/services/replicaset"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

var (
	podKind, _ = object.ByKind("Pod")
	rsKind, _  = object.ByKind("ReplicaSet")
)

// startReplicaSets runs a ReplicaSet controller over a fresh projection.
func startReplicaSets(t *testing.T, log *events.Log) {
	controlplanetest.RunController(t, log, replicaset.Projection(), reconcile.NewOwnerLoop(log, controlplanetest.Discard, replicaset.Decision()))
}

// startGC runs a garbage collector over a fresh projection.
func startGC(t *testing.T, log *events.Log) {
	controlplanetest.RunController(t, log, gc.Projection(), reconcile.NewOwnerLoop(log, controlplanetest.Discard, gc.Decision()))
}

func waitForPods(t *testing.T, c *client.Client, n int) map[string]*corev1.Pod {
	t.Helper()
	var pods map[string]*corev1.Pod
	eventstest.Eventually(t, fmt.Sprintf("%d live pods", n), func() bool {
		pods = controlplanetest.LivePods(t, c, "default")
		return len(pods) == n
	})
	return pods
}

const webRS = `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 7
      containers: [{name: web, image: nginx:1.25}]
`

var generated = regexp.MustCompile(`^web-[bcdfghjklmnpqrstvwxz2456789]{5}$`)

func TestReplicaSetKeepsItsReplicas(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	ctx := context.Background()
	startReplicaSets(t, srv.Log())
	startGC(t, srv.Log())
	controlplanetest.Apply(t, c, webRS)
	st, err := c.Query.Get(ctx, rsKind, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	rs := st.Object.(*appsv1.ReplicaSet)

	pods := waitForPods(t, c, 3)
	for name, p := range pods {
		ref := p.OwnerReferences
		if !generated.MatchString(name) || len(ref) != 1 || ref[0].UID != rs.UID || ref[0].Kind != "ReplicaSet" ||
			ref[0].APIVersion != "apps/v1" || ref[0].Name != "web" || !*ref[0].Controller || !*ref[0].BlockOwnerDeletion {
			t.Errorf("pod %s: ownerReferences %+v", name, ref)
		}
		if p.Labels["app"] != "web" || p.UID == "" || p.Spec.Containers[0].Image != "nginx:1.25" {
			t.Errorf("pod %s: labels %v uid %q", name, p.Labels, p.UID)
		}
	}
	eventstest.Eventually(t, "replicaset status", func() bool {
		st, err := c.Query.Get(ctx, rsKind, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		s := st.Object.(*appsv1.ReplicaSet).Status
		return s.Replicas == 3 && s.FullyLabeledReplicas == 3 && s.ObservedGeneration == 1
	})

	if err := c.Scale(ctx, rsKind, "default", "web", 5); err != nil {
		t.Fatal(err)
	}
	waitForPods(t, c, 5)
	if err := c.Scale(ctx, rsKind, "default", "web", 2); err != nil {
		t.Fatal(err)
	}
	waitForPods(t, c, 2)
	rsEvents := eventstest.ReadAll(t, srv.Log(), events.Ref{Kind: "ReplicaSet", Namespace: "default", Name: "web"}.Subject())
	var scaleDown *events.Event
	for _, ev := range rsEvents {
		if ev.Type == "replicaset.updated" {
			scaleDown = ev // the last: to 2
		}
	}
	var deletings int
	for _, ev := range eventstest.ReadAll(t, srv.Log(), "ev.pod.default.*") {
		if ev.Type != "pod.deleting" {
			continue
		}
		deletings++
		var d object.Deletion
		if err := json.Unmarshal(ev.Payload, &d); err != nil || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != 7 || d.UID == "" {
			t.Errorf("%s %s: payload %s, want the pod's uid and grace period 7", ev.Type, ev.Object, ev.Payload)
		}
		if ev.Actor != replicaset.Actor || ev.Cause != scaleDown.ID || ev.Correlation != scaleDown.Correlation {
			t.Errorf("%s %s: actor %q cause %q, want the scale to 2 (%s)", ev.Type, ev.Object, ev.Actor, ev.Cause, scaleDown.ID)
		}
	}
	if deletings != 3 {
		t.Errorf("%d pod.deleting events, want 3 (5 -> 2)", deletings)
	}

	// A deleted pod is replaced.
	var victim string
	for name := range controlplanetest.LivePods(t, c, "default") {
		victim = name
	}
	if err := c.Delete(ctx, podKind, "default", victim); err != nil {
		t.Fatal(err)
	}
	eventstest.Eventually(t, "replacement", func() bool {
		pods := controlplanetest.LivePods(t, c, "default")
		_, old := pods[victim]
		return len(pods) == 2 && !old
	})
	createdBefore := countCreated(t, srv.Log())

	// Every event the controller appended says who and why.
	for _, ev := range eventstest.ReadAll(t, srv.Log(), "ev.>") {
		if ev.Actor == replicaset.Actor && (ev.Cause == "" || ev.Correlation == "") {
			t.Errorf("%s %s without cause or correlation", ev.Type, ev.Object)
		}
		if ev.Type == "pod.created" && ev.Actor != replicaset.Actor {
			t.Errorf("pod.created by %s", ev.Actor)
		}
	}

	// A controller rebuilt from the log on a fresh projection creates nothing more.
	startReplicaSets(t, srv.Log())
	time.Sleep(1500 * time.Millisecond)
	if n := countCreated(t, srv.Log()); n != createdBefore || len(controlplanetest.LivePods(t, c, "default")) != 2 {
		t.Errorf("after a rebuild: %d pods created (was %d), %d live", n, createdBefore, len(controlplanetest.LivePods(t, c, "default")))
	}
}

func countCreated(t *testing.T, log *events.Log) int {
	n := 0
	for _, ev := range eventstest.ReadAll(t, log, "ev.pod.default.*") {
		if ev.Type == "pod.created" {
			n++
		}
	}
	return n
}

// Two controllers deciding from separate projections at once (a deposed leader
// still running) create each pod once: names and ids are deterministic and every
// create is guarded.
func TestTwoControllersCreateEachPodOnce(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	for range 2 {
		startReplicaSets(t, srv.Log())
	}
	controlplanetest.Apply(t, c, strings.Replace(webRS, "replicas: 3", "replicas: 20", 1))
	waitForPods(t, c, 20)
	time.Sleep(500 * time.Millisecond)
	if n := countCreated(t, srv.Log()); n != 20 || len(controlplanetest.LivePods(t, c, "default")) != 20 {
		t.Errorf("%d pods created, %d live; want 20", n, len(controlplanetest.LivePods(t, c, "default")))
	}
}
