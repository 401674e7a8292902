package deployment_test

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
	"github.com/wake-run/wake/services/deployment"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/reconcile"
	"github.com/wake-run/wake/services/reconcile/reconciletest"
	"github.com/wake-run/wake/services/replicaset"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	podKind, _    = object.ByKind("Pod")
	rsKind, _     = object.ByKind("ReplicaSet")
	deployKind, _ = object.ByKind("Deployment")
	actors        = map[string]bool{deployment.Actor: true, replicaset.Actor: true, gc.Actor: true}
)

func startDeployments(t *testing.T, log *events.Log) func() {
	return controlplanetest.RunController(t, log, deployment.Projection(), reconcile.NewOwnerLoop(log, controlplanetest.Discard, deployment.Decision()))
}

func startReplicaSets(t *testing.T, log *events.Log) func() {
	return controlplanetest.RunController(t, log, replicaset.Projection(), reconcile.NewOwnerLoop(log, controlplanetest.Discard, replicaset.Decision()))
}

// startAll runs the Deployment and ReplicaSet controllers and the garbage collector.
func startAll(t *testing.T, log *events.Log) {
	startDeployments(t, log)
	startReplicaSets(t, log)
	controlplanetest.RunController(t, log, gc.Projection(), reconcile.NewOwnerLoop(log, controlplanetest.Discard, gc.Decision()))
}

func replicaSets(t *testing.T, c *client.Client) map[string]*appsv1.ReplicaSet {
	t.Helper()
	objs, _, err := c.Query.List(context.Background(), rsKind, "default", "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for _, o := range objs {
		out[o.GetName()] = o.(*appsv1.ReplicaSet)
	}
	return out
}

// waitFor waits until the live pods are n, each controlled by a ReplicaSet named
// owner (any, when empty), and returns them.
func waitFor(t *testing.T, c *client.Client, n int, owner string) map[string]*corev1.Pod {
	t.Helper()
	var pods map[string]*corev1.Pod
	eventstest.Eventually(t, fmt.Sprintf("%d live pods of %q", n, owner), func() bool {
		pods = controlplanetest.LivePods(t, c, "default")
		ok := len(pods) == n
		for _, p := range pods {
			if ref := metav1.GetControllerOfNoCopy(p); owner != "" && (ref == nil || ref.Name != owner) {
				ok = false
			}
		}
		return ok
	})
	return pods
}

func deploymentManifest(name, image, strategy string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 3
  selector: {matchLabels: {app: %[1]s}}
  strategy: %[2]s
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: web, image: %[3]s}]
`, name, strategy, image)
}

// newestRS is the name of the ReplicaSet of the deployment's current template.
func newestRS(t *testing.T, c *client.Client, name string) string {
	t.Helper()
	st, err := c.Query.Get(context.Background(), deployKind, "default", name)
	if err != nil {
		t.Fatal(err)
	}
	d := st.Object.(*appsv1.Deployment)
	return name + "-" + deployment.PodTemplateHash(&d.Spec.Template, d.Status.CollisionCount)
}

func TestDeploymentCreatesScalesAndReplaces(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	ctx := context.Background()
	startAll(t, srv.Log())
	controlplanetest.Apply(t, c, deploymentManifest("web", "nginx:1.25", "{}"))
	rsName := newestRS(t, c, "web")
	pods := waitFor(t, c, 3, rsName)

	sets := replicaSets(t, c)
	rs := sets[rsName]
	hash := strings.TrimPrefix(rsName, "web-")
	if len(sets) != 1 || rs == nil {
		t.Fatalf("replicasets = %v, want only %s", sets, rsName)
	}
	if rs.Labels[deployment.HashLabel] != hash || rs.Spec.Selector.MatchLabels[deployment.HashLabel] != hash ||
		rs.Annotations[deployment.RevisionAnnotation] != "1" || metav1.GetControllerOfNoCopy(rs).Name != "web" {
		t.Errorf("replicaset %s: labels %v selector %v annotations %v owners %v", rsName, rs.Labels, rs.Spec.Selector, rs.Annotations, rs.OwnerReferences)
	}
	generated := regexp.MustCompile(`^web-` + hash + `-[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	for name, p := range pods {
		if !generated.MatchString(name) || p.Labels[deployment.HashLabel] != hash || metav1.GetControllerOfNoCopy(p).UID != rs.UID {
			t.Errorf("pod %s: labels %v owners %+v", name, p.Labels, p.OwnerReferences)
		}
	}
	// Every pod traces back to the apply that created the Deployment.
	created := eventstest.ReadAll(t, srv.Log(), events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"}.Subject())[0]
	for _, ev := range reconciletest.OfType(eventstest.ReadAll(t, srv.Log(), "ev.pod.default.*"), "pod.created") {
		if ev.Correlation != created.ID {
			t.Errorf("%s: correlation %q, want the deployment's creation %q", ev.Object, ev.Correlation, created.ID)
		}
	}
	eventstest.Eventually(t, "deployment status", func() bool {
		st, err := c.Query.Get(ctx, deployKind, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		s := st.Object.(*appsv1.Deployment).Status
		return s.Replicas == 3 && s.UpdatedReplicas == 3 && s.ObservedGeneration == 1 && s.UnavailableReplicas == 3 && len(s.Conditions) == 2
	})

	if err := c.Scale(ctx, deployKind, "default", "web", 5); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, 5, rsName)
	if err := c.Scale(ctx, deployKind, "default", "web", 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, 2, rsName)
	if n := len(reconciletest.OfType(eventstest.ReadAll(t, srv.Log(), "ev.pod.default.*"), "pod.deleting")); n != 3 {
		t.Errorf("%d pod.deleting events, want 3 (5 -> 2)", n)
	}

	var victim string
	for name := range controlplanetest.LivePods(t, c, "default") {
		victim = name
	}
	if err := c.Delete(ctx, podKind, "default", victim); err != nil {
		t.Fatal(err)
	}
	eventstest.Eventually(t, "a replacement", func() bool {
		pods := controlplanetest.LivePods(t, c, "default")
		_, old := pods[victim]
		return len(pods) == 2 && !old
	})
	checkWhoAndWhy(t, srv.Log())
}

// checkWhoAndWhy: every event a controller appended names its cause and correlation.
func checkWhoAndWhy(t *testing.T, log *events.Log) {
	t.Helper()
	for _, ev := range eventstest.ReadAll(t, log, "ev.>") {
		if actors[ev.Actor] && (ev.Cause == "" || ev.Correlation == "" || ev.Reason == "") {
			t.Errorf("%s %s by %s without cause, correlation or reason", ev.Type, ev.Object, ev.Actor)
		}
	}
}

// replicas replays the ReplicaSet events of evs whose names start with prefix
// and returns each one's spec.replicas at the end and the largest sum of them
// at any point.
func replicas(t *testing.T, evs []*events.Event, prefix string) (final map[string]int32, most int32) {
	t.Helper()
	final = map[string]int32{}
	for _, ev := range evs {
		if ev.Object.Kind != "ReplicaSet" || !strings.HasPrefix(ev.Object.Name, prefix) {
			continue
		}
		switch ev.Type {
		case "replicaset.created", "replicaset.updated":
			var ch object.Change
			var rs appsv1.ReplicaSet
			if err := json.Unmarshal(ev.Payload, &ch); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(ch.Object, &rs); err != nil {
				t.Fatal(err)
			}
			final[ev.Object.Name] = *rs.Spec.Replicas
		case "replicaset.deleted":
			delete(final, ev.Object.Name)
		}
		var sum int32
		for _, n := range final {
			sum += n
		}
		most = max(most, sum)
	}
	return final, most
}

func TestRollingUpdateHonoursMaxSurge(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	startAll(t, srv.Log())
	// Pods never become ready here (no node runs them), so nothing is available.
	const keep = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
	const replace = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 100%}}"
	controlplanetest.Apply(t, c, deploymentManifest("web", "nginx:1.25", keep)+"---\n"+deploymentManifest("api", "nginx:1.25", replace))
	webOld, apiOld := newestRS(t, c, "web"), newestRS(t, c, "api")
	eventstest.Eventually(t, "6 pods", func() bool { return len(controlplanetest.LivePods(t, c, "default")) == 6 })
	controlplanetest.Apply(t, c, deploymentManifest("web", "nginx:1.26", keep)+"---\n"+deploymentManifest("api", "nginx:1.26", replace))
	webNew, apiNew := newestRS(t, c, "web"), newestRS(t, c, "api")

	// maxUnavailable 0 and nothing available: one surge pod, and there it stays.
	eventstest.Eventually(t, "the surge replicaset", func() bool {
		rs := replicaSets(t, c)[webNew]
		return rs != nil && *rs.Spec.Replicas == 1 && rs.Status.Replicas == 1
	})
	// maxUnavailable 100%: the unavailable old pods go, the new ones come.
	eventstest.Eventually(t, "the api rollout", func() bool {
		sets := replicaSets(t, c)
		o, n := sets[apiOld], sets[apiNew]
		return o != nil && n != nil && *o.Spec.Replicas == 0 && *n.Spec.Replicas == 3 && n.Status.Replicas == 3
	})
	time.Sleep(time.Second)
	if rs := replicaSets(t, c)[webOld]; *rs.Spec.Replicas != 3 {
		t.Errorf("old web replicaset scaled to %d with nothing available and maxUnavailable 0", *rs.Spec.Replicas)
	}
	if rs := replicaSets(t, c)[webNew]; *rs.Spec.Replicas != 1 {
		t.Errorf("new web replicaset at %d, want 1 (maxSurge)", *rs.Spec.Replicas)
	}
	for _, name := range []string{"web", "api"} {
		if _, most := replicas(t, eventstest.ReadAll(t, srv.Log(), "ev.replicaset.default.*"), name+"-"); most > 4 {
			t.Errorf("%s: ReplicaSets summed to %d replicas, more than 3 + maxSurge 1", name, most)
		}
	}
	checkWhoAndWhy(t, srv.Log())
}

// Controllers rebuilt on fresh projections, and two deployment controllers at
// once, create each ReplicaSet and pod once.
func TestRestartedControllersCreateNothingTwice(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	startDeployments(t, srv.Log()) // a second, concurrent one
	stopDeployments, stopReplicaSets := startDeployments(t, srv.Log()), startReplicaSets(t, srv.Log())
	controlplanetest.Apply(t, c, deploymentManifest("web", "nginx:1.25", "{}"))
	rsName := newestRS(t, c, "web")
	waitFor(t, c, 3, rsName)
	stopDeployments()
	stopReplicaSets()
	startDeployments(t, srv.Log())
	startReplicaSets(t, srv.Log())
	time.Sleep(1500 * time.Millisecond)
	if n := len(reconciletest.OfType(eventstest.ReadAll(t, srv.Log(), "ev.replicaset.default.*"), "replicaset.created")); n != 1 {
		t.Errorf("%d replicasets created, want 1", n)
	}
	if n := len(reconciletest.OfType(eventstest.ReadAll(t, srv.Log(), "ev.pod.default.*"), "pod.created")); n != 3 {
		t.Errorf("%d pods created, want 3", n)
	}
	waitFor(t, c, 3, rsName)
}
