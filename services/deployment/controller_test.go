package deployment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/deployment"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/replicaset"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	discard       = slog.New(slog.NewTextHandler(io.Discard, nil))
	podKind, _    = object.ByKind("Pod")
	rsKind, _     = object.ByKind("ReplicaSet")
	deployKind, _ = object.ByKind("Deployment")
	actors        = map[string]bool{deployment.Actor: true, replicaset.Actor: true, gc.Actor: true}
)

func startControlPlane(t *testing.T) (*controlplane.Server, *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: t.TempDir(), Port: -1, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Actor = "user:alice"
	return srv, c
}

// controller is what the three controllers have in common.
type controller interface {
	Notify(uint64)
	Attach(*projections.Runner)
	Run(context.Context)
}

// start runs a controller over a fresh projection; the returned func stops it.
func start(t *testing.T, log *events.Log, p projections.Projection, ctl controller) func() {
	t.Helper()
	r, err := projections.Open(filepath.Join(t.TempDir(), p.Name), p, log, projections.WithLogger(discard), projections.WithAfterCommit(ctl.Notify))
	if err != nil {
		t.Fatal(err)
	}
	ctl.Attach(r)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	go func() {
		defer wg.Done()
		ctl.Run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			_ = r.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

func startDeployments(t *testing.T, log *events.Log) func() {
	return start(t, log, deployment.Projection(), deployment.New(log, discard))
}

func startReplicaSets(t *testing.T, log *events.Log) func() {
	return start(t, log, replicaset.Projection(), replicaset.New(log, discard))
}

// startAll runs the Deployment and ReplicaSet controllers and the garbage collector.
func startAll(t *testing.T, log *events.Log) {
	startDeployments(t, log)
	startReplicaSets(t, log)
	start(t, log, gc.Projection(), gc.New(log, discard))
}

// write applies every document of manifest.
func write(t *testing.T, c *client.Client, manifest string) {
	t.Helper()
	docs, err := object.Decode("test.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetNamespace(docs, "", false); err != nil {
		t.Fatal(err)
	}
	for i := range docs {
		if _, err := c.Write(context.Background(), &docs[i], client.ModeApply); err != nil {
			t.Fatal(err)
		}
	}
}

// readAll returns every event of the log on subject.
func readAll(t *testing.T, log *events.Log, subject string) []*events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cur, err := log.Read(ctx, events.ReadOptions{Subjects: []string{subject}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	var out []*events.Event
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		ev, err := rec.Decode()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
}

func ofType(evs []*events.Event, typ string) []*events.Event {
	var out []*events.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after 20s", what, state)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// livePods are the pods of namespace default not being deleted, by name.
func livePods(t *testing.T, c *client.Client) map[string]*corev1.Pod {
	t.Helper()
	objs, _, err := c.Query.List(context.Background(), podKind, "default", "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*corev1.Pod{}
	for _, o := range objs {
		if p := o.(*corev1.Pod); p.DeletionTimestamp == nil {
			out[p.Name] = p
		}
	}
	return out
}

// replicaSets are the ReplicaSets of namespace default, by name.
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
	eventually(t, fmt.Sprintf("%d live pods of %q", n, owner), func() (bool, string) {
		pods = livePods(t, c)
		var names []string
		ok := len(pods) == n
		for name, p := range pods {
			names = append(names, name)
			if ref := metav1.GetControllerOfNoCopy(p); owner != "" && (ref == nil || ref.Name != owner) {
				ok = false
			}
		}
		return ok, fmt.Sprint(names)
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
	srv, c := startControlPlane(t)
	ctx := context.Background()
	startAll(t, srv.Log())
	write(t, c, deploymentManifest("web", "nginx:1.25", "{}"))
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
	created := readAll(t, srv.Log(), events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"}.Subject())[0]
	for _, ev := range ofType(readAll(t, srv.Log(), "ev.pod.default.*"), "pod.created") {
		if ev.Correlation != created.ID {
			t.Errorf("%s: correlation %q, want the deployment's creation %q", ev.Object, ev.Correlation, created.ID)
		}
	}
	eventually(t, "deployment status", func() (bool, string) {
		st, err := c.Query.Get(ctx, deployKind, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		s := st.Object.(*appsv1.Deployment).Status
		return s.Replicas == 3 && s.UpdatedReplicas == 3 && s.ObservedGeneration == 1 && s.UnavailableReplicas == 3 && len(s.Conditions) == 2,
			fmt.Sprintf("%+v", s)
	})

	if err := c.Scale(ctx, deployKind, "default", "web", 5); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, 5, rsName)
	if err := c.Scale(ctx, deployKind, "default", "web", 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, 2, rsName)
	if n := len(ofType(readAll(t, srv.Log(), "ev.pod.default.*"), "pod.deleting")); n != 3 {
		t.Errorf("%d pod.deleting events, want 3 (5 -> 2)", n)
	}

	var victim string
	for name := range livePods(t, c) {
		victim = name
	}
	if err := c.Delete(ctx, podKind, "default", victim); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a replacement", func() (bool, string) {
		pods := livePods(t, c)
		_, old := pods[victim]
		return len(pods) == 2 && !old, fmt.Sprint(len(pods), " pods")
	})
	checkWhoAndWhy(t, srv.Log())
}

// checkWhoAndWhy: every event a controller appended names its cause and correlation.
func checkWhoAndWhy(t *testing.T, log *events.Log) {
	t.Helper()
	for _, ev := range readAll(t, log, "ev.>") {
		if actors[ev.Actor] && (ev.Cause == "" || ev.Correlation == "" || ev.Reason == "") {
			t.Errorf("%s %s by %s without cause, correlation or reason", ev.Type, ev.Object, ev.Actor)
		}
	}
}

func TestRecreateScalesDownBeforeCreating(t *testing.T) {
	srv, c := startControlPlane(t)
	startAll(t, srv.Log())
	write(t, c, deploymentManifest("web", "nginx:1.25", "{type: Recreate}"))
	oldRS := newestRS(t, c, "web")
	waitFor(t, c, 3, oldRS)
	write(t, c, deploymentManifest("web", "nginx:1.26", "{type: Recreate}"))
	newRS := newestRS(t, c, "web")
	if newRS == oldRS {
		t.Fatal("a new template kept the ReplicaSet name")
	}
	waitFor(t, c, 3, newRS)
	eventually(t, "the old replicaset at 0", func() (bool, string) {
		rs := replicaSets(t, c)[oldRS]
		return rs != nil && *rs.Spec.Replicas == 0 && rs.Status.Replicas == 0, "scaling"
	})
	// The new ReplicaSet was created only after the old one reported no pods.
	oldEvents := readAll(t, srv.Log(), events.Ref{Kind: "ReplicaSet", Namespace: "default", Name: oldRS}.Subject())
	var drained uint64
	for _, ev := range ofType(oldEvents, "replicaset.status") {
		if strings.HasPrefix(ev.Reason, "0 of 0 replicas") && drained == 0 {
			drained = ev.Seq
		}
	}
	creation := readAll(t, srv.Log(), events.Ref{Kind: "ReplicaSet", Namespace: "default", Name: newRS}.Subject())[0]
	if creation.Type != "replicaset.created" || drained == 0 || creation.Seq < drained {
		t.Errorf("new replicaset created at %d, old one drained at %d", creation.Seq, drained)
	}
	if rs := replicaSets(t, c)[newRS]; rs.Annotations[deployment.RevisionAnnotation] != "2" {
		t.Errorf("new revision = %q, want 2", rs.Annotations[deployment.RevisionAnnotation])
	}
	checkWhoAndWhy(t, srv.Log())
}

// maxReplicas replays the ReplicaSet events of the log and returns the largest sum
// of spec.replicas over the ReplicaSets of a deployment at any point.
func maxReplicas(t *testing.T, log *events.Log, deploymentName string) int32 {
	t.Helper()
	current := map[string]int32{}
	var most int32
	for _, ev := range readAll(t, log, "ev.replicaset.default.*") {
		if !strings.HasPrefix(ev.Object.Name, deploymentName+"-") {
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
			current[ev.Object.Name] = *rs.Spec.Replicas
		case "replicaset.deleted":
			delete(current, ev.Object.Name)
		}
		var sum int32
		for _, n := range current {
			sum += n
		}
		most = max(most, sum)
	}
	return most
}

func TestRollingUpdateHonoursMaxSurge(t *testing.T) {
	srv, c := startControlPlane(t)
	startAll(t, srv.Log())
	// Pods never become ready here (no node runs them), so nothing is available.
	const keep = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
	const replace = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 100%}}"
	write(t, c, deploymentManifest("web", "nginx:1.25", keep)+"---\n"+deploymentManifest("api", "nginx:1.25", replace))
	webOld, apiOld := newestRS(t, c, "web"), newestRS(t, c, "api")
	eventually(t, "6 pods", func() (bool, string) { n := len(livePods(t, c)); return n == 6, fmt.Sprint(n) })
	write(t, c, deploymentManifest("web", "nginx:1.26", keep)+"---\n"+deploymentManifest("api", "nginx:1.26", replace))
	webNew, apiNew := newestRS(t, c, "web"), newestRS(t, c, "api")

	// maxUnavailable 0 and nothing available: one surge pod, and there it stays.
	eventually(t, "the surge replicaset", func() (bool, string) {
		rs := replicaSets(t, c)[webNew]
		return rs != nil && *rs.Spec.Replicas == 1 && rs.Status.Replicas == 1, "missing"
	})
	// maxUnavailable 100%: the unavailable old pods go, the new ones come.
	eventually(t, "the api rollout", func() (bool, string) {
		sets := replicaSets(t, c)
		o, n := sets[apiOld], sets[apiNew]
		return o != nil && n != nil && *o.Spec.Replicas == 0 && *n.Spec.Replicas == 3 && n.Status.Replicas == 3, "rolling"
	})
	time.Sleep(time.Second)
	if rs := replicaSets(t, c)[webOld]; *rs.Spec.Replicas != 3 {
		t.Errorf("old web replicaset scaled to %d with nothing available and maxUnavailable 0", *rs.Spec.Replicas)
	}
	if rs := replicaSets(t, c)[webNew]; *rs.Spec.Replicas != 1 {
		t.Errorf("new web replicaset at %d, want 1 (maxSurge)", *rs.Spec.Replicas)
	}
	for _, name := range []string{"web", "api"} {
		if most := maxReplicas(t, srv.Log(), name); most > 4 {
			t.Errorf("%s: ReplicaSets summed to %d replicas, more than 3 + maxSurge 1", name, most)
		}
	}
	checkWhoAndWhy(t, srv.Log())
}

func TestDeletingADeploymentDeletesItsReplicaSetsAndPods(t *testing.T) {
	srv, c := startControlPlane(t)
	ctx := context.Background()
	startAll(t, srv.Log())
	write(t, c, deploymentManifest("web", "nginx:1.25", "{}"))
	rsName := newestRS(t, c, "web")
	waitFor(t, c, 3, rsName)
	if err := c.Delete(ctx, deployKind, "default", "web"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "everything deleted", func() (bool, string) {
		return len(replicaSets(t, c)) == 0 && len(livePods(t, c)) == 0, "deleting"
	})
	deleted := readAll(t, srv.Log(), events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"}.Subject())
	userDeletion := deleted[len(deleted)-1]
	rsEvents := readAll(t, srv.Log(), events.Ref{Kind: "ReplicaSet", Namespace: "default", Name: rsName}.Subject())
	rsDeletion := rsEvents[len(rsEvents)-1]
	if rsDeletion.Type != "replicaset.deleted" || rsDeletion.Actor != gc.Actor || rsDeletion.Cause != userDeletion.ID {
		t.Errorf("replicaset's last event %s by %s caused by %s, want replicaset.deleted by the collector caused by %s",
			rsDeletion.Type, rsDeletion.Actor, rsDeletion.Cause, userDeletion.ID)
	}
	deletings := ofType(readAll(t, srv.Log(), "ev.pod.default.*"), "pod.deleting")
	if len(deletings) != 3 {
		t.Errorf("%d pod.deleting events, want 3", len(deletings))
	}
	for _, ev := range deletings {
		if ev.Actor != gc.Actor || ev.Cause != rsDeletion.ID || ev.Correlation != userDeletion.Correlation {
			t.Errorf("%s %s by %s caused by %s (correlation %s), want the collector, %s, %s",
				ev.Type, ev.Object, ev.Actor, ev.Cause, ev.Correlation, rsDeletion.ID, userDeletion.Correlation)
		}
	}
	checkWhoAndWhy(t, srv.Log())
}

// Controllers rebuilt on fresh projections, and two deployment controllers at
// once, create each ReplicaSet and pod once.
func TestRestartedControllersCreateNothingTwice(t *testing.T) {
	srv, c := startControlPlane(t)
	startDeployments(t, srv.Log()) // a second, concurrent one
	stopDeployments, stopReplicaSets := startDeployments(t, srv.Log()), startReplicaSets(t, srv.Log())
	write(t, c, deploymentManifest("web", "nginx:1.25", "{}"))
	rsName := newestRS(t, c, "web")
	waitFor(t, c, 3, rsName)
	stopDeployments()
	stopReplicaSets()
	startDeployments(t, srv.Log())
	startReplicaSets(t, srv.Log())
	time.Sleep(1500 * time.Millisecond)
	if n := len(ofType(readAll(t, srv.Log(), "ev.replicaset.default.*"), "replicaset.created")); n != 1 {
		t.Errorf("%d replicasets created, want 1", n)
	}
	if n := len(ofType(readAll(t, srv.Log(), "ev.pod.default.*"), "pod.created")); n != 3 {
		t.Errorf("%d pods created, want 3", n)
	}
	waitFor(t, c, 3, rsName)
}
