package deployment_test

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/services/deployment"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/reconcile/reconciletest"
	"github.com/wake-run/wake/services/replicaset"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Whole-controller scripts: events in, the events the Deployment and ReplicaSet
// controllers and the garbage collector append out, without NATS
// (reconciletest).

// scripted is a log read by the three controllers.
func scripted(t *testing.T) *reconciletest.Log {
	l := reconciletest.NewLog(t)
	l.Attach(deployment.Decision())
	l.Attach(replicaset.Decision())
	l.Attach(gc.Decision())
	return l
}

// generatedPod masks a generated pod name's suffix in a summary line.
var generatedPod = regexp.MustCompile(`(web-[0-9a-z]+)-[bcdfghjklmnpqrstvwxz2456789]{5}\b`)

// expect compares what was appended, generated pod names masked as
// <replicaset>-*, with want, and checks every event says who and why.
func expect(t *testing.T, l *reconciletest.Log, got []*events.Event, want ...string) {
	t.Helper()
	lines := l.Summary(got)
	for i := range lines {
		lines[i] = generatedPod.ReplaceAllString(lines[i], "$1-*")
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("appended:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
	for _, ev := range got {
		if ev.Cause == "" || ev.Correlation == "" || ev.Reason == "" {
			t.Errorf("%s %s by %s without cause, correlation or reason", ev.Type, ev.Object, ev.Actor)
		}
	}
}

func TestScriptDeploymentCreatesItsReplicaSet(t *testing.T) {
	l := scripted(t)
	created := l.Apply(deploymentManifest("web", "nginx:1.25", "{}"))[0]
	got := l.Settle()
	expect(t, l, got,
		"replicaset.created ReplicaSet/default/web-549cbb9bcd @0",
		"deployment.status Deployment/default/web @1",
		"pod.created Pod/default/web-549cbb9bcd-* @0",
		"pod.created Pod/default/web-549cbb9bcd-* @0",
		"pod.created Pod/default/web-549cbb9bcd-* @0",
		"replicaset.status ReplicaSet/default/web-549cbb9bcd @2",
		"replicaset.status ReplicaSet/default/web-549cbb9bcd @7",
		"deployment.status Deployment/default/web @3")
	// Every pod traces back to the apply that created the Deployment.
	for _, ev := range got {
		if ev.Correlation != created.ID {
			t.Errorf("%s %s: correlation %q, want the deployment's creation %q", ev.Type, ev.Object, ev.Correlation, created.ID)
		}
	}
	rs := l.Get(events.Ref{Kind: "ReplicaSet", Namespace: "default", Name: "web-549cbb9bcd"}).Object.(*appsv1.ReplicaSet)
	if rs.Labels[deployment.HashLabel] != "549cbb9bcd" || rs.Annotations[deployment.RevisionAnnotation] != "1" || metav1.GetControllerOfNoCopy(rs).Name != "web" {
		t.Errorf("replicaset: labels %v annotations %v owners %v", rs.Labels, rs.Annotations, rs.OwnerReferences)
	}
	d := l.Get(events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"}).Object.(*appsv1.Deployment)
	if s := d.Status; s.Replicas != 3 || s.UpdatedReplicas != 3 || s.ObservedGeneration != 1 || s.UnavailableReplicas != 3 {
		t.Errorf("deployment status %+v", s)
	}

	// Scaling the Deployment scales its ReplicaSet, which creates the pods.
	l.Apply(strings.Replace(deploymentManifest("web", "nginx:1.25", "{}"), "replicas: 3", "replicas: 5", 1))
	expect(t, l, l.Settle(),
		"replicaset.updated ReplicaSet/default/web-549cbb9bcd @8",
		"deployment.status Deployment/default/web @10",
		"pod.created Pod/default/web-549cbb9bcd-* @0",
		"pod.created Pod/default/web-549cbb9bcd-* @0",
		"replicaset.status ReplicaSet/default/web-549cbb9bcd @11",
		"replicaset.status ReplicaSet/default/web-549cbb9bcd @15",
		"deployment.status Deployment/default/web @12")
}

func TestScriptRecreateScalesDownBeforeCreating(t *testing.T) {
	l := scripted(t)
	l.Apply(deploymentManifest("web", "nginx:1.25", "{type: Recreate}"))
	l.Settle()
	l.Apply(deploymentManifest("web", "nginx:1.26", "{type: Recreate}"))
	// The old ReplicaSet goes to 0 and reports no pods before the new one exists.
	expect(t, l, l.Settle(),
		"replicaset.updated ReplicaSet/default/web-549cbb9bcd @8",
		"deployment.status Deployment/default/web @10",
		"pod.deleting Pod/default/web-549cbb9bcd-* @5",
		"pod.deleting Pod/default/web-549cbb9bcd-* @4",
		"pod.deleting Pod/default/web-549cbb9bcd-* @6",
		"replicaset.status ReplicaSet/default/web-549cbb9bcd @11",
		"replicaset.status ReplicaSet/default/web-549cbb9bcd @16",
		"replicaset.created ReplicaSet/default/web-545f9c88f5 @0",
		"deployment.status Deployment/default/web @12",
		"pod.created Pod/default/web-545f9c88f5-* @0",
		"pod.created Pod/default/web-545f9c88f5-* @0",
		"pod.created Pod/default/web-545f9c88f5-* @0",
		"replicaset.status ReplicaSet/default/web-545f9c88f5 @18",
		"replicaset.status ReplicaSet/default/web-545f9c88f5 @23",
		"deployment.status Deployment/default/web @19")
	if rs := l.Get(events.Ref{Kind: "ReplicaSet", Namespace: "default", Name: "web-545f9c88f5"}).Object; rs.GetAnnotations()[deployment.RevisionAnnotation] != "2" {
		t.Errorf("new revision = %q, want 2", rs.GetAnnotations()[deployment.RevisionAnnotation])
	}
}

// readyAll reports every live pod not yet ready as running ready on node n1.
func readyAll(l *reconciletest.Log) (n int) {
	for name, o := range l.List("Pod", "default") {
		p := o.(*corev1.Pod)
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodRunning {
			l.Ready(events.Ref{Kind: "Pod", Namespace: "default", Name: name}, "n1")
			n++
		}
	}
	return n
}

// A rolling update with maxUnavailable 0 moves one pod at a time, each step
// waiting until the new pod is ready, and never runs more than replicas +
// maxSurge.
func TestScriptRollingUpdateWaitsForReadyPods(t *testing.T) {
	l := scripted(t)
	const strategy = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
	l.Apply(deploymentManifest("web", "nginx:1.25", strategy))
	l.Settle()
	readyAll(l)
	l.Settle()
	l.Apply(deploymentManifest("web", "nginx:1.26", strategy))
	l.Settle()
	var steps []string
	for range 10 {
		final, _ := replicas(t, l.Events(), "web-")
		steps = append(steps, fmt.Sprintf("old %d new %d", final["web-549cbb9bcd"], final["web-545f9c88f5"]))
		if readyAll(l) == 0 {
			break
		}
		l.Settle()
	}
	// Nothing new becomes ready without a node: the rollout waits, and stays.
	if got := l.Settle(); len(got) != 0 {
		t.Errorf("a settled rollout appended %q", l.Summary(got))
	}
	want := []string{"old 3 new 1", "old 2 new 2", "old 1 new 3", "old 0 new 3"}
	if !slices.Equal(steps, want) {
		t.Errorf("rollout steps %q, want %q", steps, want)
	}
	if _, most := replicas(t, l.Events(), "web-"); most > 4 {
		t.Errorf("ReplicaSets summed to %d replicas, more than 3 + maxSurge 1", most)
	}
}

func TestScriptDeletingADeploymentDeletesItsReplicaSetsAndPods(t *testing.T) {
	l := scripted(t)
	l.Apply(deploymentManifest("web", "nginx:1.25", "{}"))
	l.Settle()
	deleted := l.Delete(events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"})
	got := l.Settle()
	expect(t, l, got,
		"replicaset.deleted ReplicaSet/default/web-549cbb9bcd @8",
		"pod.deleting Pod/default/web-549cbb9bcd-* @5",
		"pod.deleting Pod/default/web-549cbb9bcd-* @4",
		"pod.deleting Pod/default/web-549cbb9bcd-* @6")
	for _, ev := range got {
		if ev.Actor != gc.Actor || ev.Correlation != deleted.Correlation {
			t.Errorf("%s %s by %s (correlation %s), want the collector, %s", ev.Type, ev.Object, ev.Actor, ev.Correlation, deleted.Correlation)
		}
	}
	if ev := got[0]; ev.Cause != deleted.ID {
		t.Errorf("replicaset's deletion caused by %s, want %s", ev.Cause, deleted.ID)
	}
	for _, ev := range got[1:] {
		if ev.Cause != got[0].ID {
			t.Errorf("%s caused by %s, want the replicaset's deletion %s", ev.Object, ev.Cause, got[0].ID)
		}
	}
}
