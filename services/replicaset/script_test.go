package replicaset_test

import (
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/reconcile/reconciletest"
	"github.com/wake-run/wake/services/replicaset"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Whole-controller scripts: events in, the events the controller appends out,
// without NATS (reconciletest).

var (
	webRef = events.Ref{Kind: "ReplicaSet", Namespace: "default", Name: "web"}
	// podName masks a generated pod name in a summary line.
	podName = regexp.MustCompile(`web-[bcdfghjklmnpqrstvwxz2456789]{5}\b`)
)

// expect compares what was appended, generated pod names masked as web-*, with
// want, and checks that the controller says who and why.
func expect(t *testing.T, l *reconciletest.Log, got []*events.Event, cause *events.Event, want ...string) {
	t.Helper()
	lines := l.Summary(got)
	for i := range lines {
		lines[i] = podName.ReplaceAllString(lines[i], "web-*")
	}
	if !reflect.DeepEqual(lines, want) && !(len(lines) == 0 && len(want) == 0) {
		t.Errorf("appended:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
	for _, ev := range got {
		if cause != nil && ev.Type != "replicaset.status" && (ev.Cause != cause.ID || ev.Correlation != cause.Correlation) {
			t.Errorf("%s %s: cause %q correlation %q, want %s", ev.Type, ev.Object, ev.Cause, ev.Correlation, cause.ID)
		}
	}
}

func scaled(n string) string { return strings.Replace(webRS, "replicas: 3", "replicas: "+n, 1) }

func TestScriptReplicaSetKeepsItsReplicas(t *testing.T) {
	l := reconciletest.NewLog(t)
	ctl := l.Attach(replicaset.Decision())
	created := l.Apply(scaled("1"))[0]
	// Creation of a name the log never held is guarded at version 0; the status
	// follows the pods as the controller sees them.
	expect(t, l, l.Settle(), created,
		"pod.created Pod/default/web-* @0",
		"replicaset.status ReplicaSet/default/web @1",
		"replicaset.status ReplicaSet/default/web @3")

	up := l.Apply(scaled("3"))[0]
	expect(t, l, l.Settle(), up,
		"pod.created Pod/default/web-* @0",
		"pod.created Pod/default/web-* @0",
		"replicaset.status ReplicaSet/default/web @5",
		"replicaset.status ReplicaSet/default/web @8")

	// A pod being deleted no longer counts: it is replaced at once.
	victim := slices.Sorted(maps.Keys(l.List("Pod", "default")))[0]
	deleting := l.Delete(events.Ref{Kind: "Pod", Namespace: "default", Name: victim})
	expect(t, l, l.Settle(), deleting,
		"pod.created Pod/default/web-* @0",
		"replicaset.status ReplicaSet/default/web @9",
		"replicaset.status ReplicaSet/default/web @12")

	// Scaling down deletes the surplus gracefully, each guarded at its pod's version.
	down := l.Apply(scaled("1"))[0]
	got := l.Settle()
	expect(t, l, got, down,
		"pod.deleting Pod/default/web-* @11",
		"pod.deleting Pod/default/web-* @7",
		"replicaset.status ReplicaSet/default/web @14",
		"replicaset.status ReplicaSet/default/web @17")
	for _, ev := range got[:2] {
		var d object.Deletion
		if err := json.Unmarshal(ev.Payload, &d); err != nil || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != 7 || d.UID == "" {
			t.Errorf("%s: payload %s, want the pod's uid and grace period 7", ev.Object, ev.Payload)
		}
		if ev.Object.Name == victim {
			t.Errorf("deleted %s again", victim)
		}
	}
	if live := livePodsOf(l); len(live) != 1 {
		t.Errorf("%d live pods, want 1", len(live))
	}
	if got := ctl.RoundAll(); len(got) != 0 {
		t.Errorf("a full resync of a settled ReplicaSet appended %q", l.Summary(got))
	}
	for _, ev := range l.Events() {
		if ev.Actor == replicaset.Actor && (ev.Cause == "" || ev.Correlation == "") {
			t.Errorf("%s %s without cause or correlation", ev.Type, ev.Object)
		}
	}
}

func livePodsOf(l *reconciletest.Log) []string {
	var out []string
	for name, o := range l.List("Pod", "default") {
		if o.(*corev1.Pod).DeletionTimestamp == nil {
			out = append(out, name)
		}
	}
	return out
}

// Two controllers deciding from their own projections at once (a deposed leader
// still running) append each pod once: names and ids are deterministic.
func TestScriptTwoControllersCreateEachPodOnce(t *testing.T) {
	l := reconciletest.NewLog(t)
	a, b := l.Attach(replicaset.Decision()), l.Attach(replicaset.Decision())
	l.Apply(scaled("5"))
	planA, planB := a.Decide(false), b.Decide(false)
	if len(planA) != 6 || !reflect.DeepEqual(planA, planB) {
		t.Fatalf("plans differ or are not 5 creations and a status: %d and %d steps", len(planA), len(planB))
	}
	a.Append(planA)
	if got := b.Append(planB); len(got) != 0 {
		t.Errorf("the second controller appended %q", l.Summary(got))
	}
	l.Settle()
	if n := len(reconciletest.OfType(l.Events(), "pod.created")); n != 5 {
		t.Errorf("%d pods created, want 5", n)
	}
}

func TestScriptDeletingAReplicaSetDeletesItsPods(t *testing.T) {
	l := reconciletest.NewLog(t)
	l.Attach(replicaset.Decision())
	l.Attach(gc.Decision())
	l.Apply(webRS)
	l.Settle()
	deleted := l.Delete(webRef)
	got := l.Settle()
	if len(got) != 3 {
		t.Fatalf("appended %q, want the 3 pods' deletions", l.Summary(got))
	}
	for _, ev := range got {
		var d object.Deletion
		_ = json.Unmarshal(ev.Payload, &d)
		if ev.Type != "pod.deleting" || ev.Actor != gc.Actor || ev.Cause != deleted.ID || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != 7 {
			t.Errorf("%s %s by %s caused by %s grace %v, want pod.deleting by the collector caused by %s, grace 7",
				ev.Type, ev.Object, ev.Actor, ev.Cause, d.GracePeriodSeconds, deleted.ID)
		}
	}
	// The controller made no new pods for the deleted ReplicaSet.
	if n := len(reconciletest.OfType(l.Events(), "pod.created")); n != 3 {
		t.Errorf("%d pods created, want 3", n)
	}
}

// A pod counts as available only once it has been ready for minReadySeconds,
// and the controller wakes at that moment to say so, though nothing is appended
// in between.
func TestScriptMinReadySecondsDelaysAvailability(t *testing.T) {
	l := reconciletest.NewLog(t)
	l.Attach(replicaset.Decision())
	l.Apply(strings.Replace(scaled("2"), "spec:\n  replicas", "spec:\n  minReadySeconds: 10\n  replicas", 1))
	l.Settle()
	rs := func() appsv1.ReplicaSetStatus {
		return l.Get(webRef).Object.(*appsv1.ReplicaSet).Status
	}
	pods := slices.Sorted(maps.Keys(l.List("Pod", "default")))
	l.Ready(events.Ref{Kind: "Pod", Namespace: "default", Name: pods[0]}, "n1")
	l.Advance(4 * time.Second)
	l.Ready(events.Ref{Kind: "Pod", Namespace: "default", Name: pods[1]}, "n1")
	l.Settle()
	if st := rs(); st.ReadyReplicas != 2 || st.AvailableReplicas != 0 {
		t.Fatalf("just ready: %d ready, %d available, want 2 and 0", st.ReadyReplicas, st.AvailableReplicas)
	}
	for i, want := range []int32{1, 2} {
		next, ok := l.NextWake()
		if at := reconciletest.Start.Add(time.Duration(10+4*i) * time.Second); !ok || !next.Equal(at) {
			t.Fatalf("wake-up %d at %s (%v), want %s: the first pod's ready time + minReadySeconds", i, next, ok, at)
		}
		l.Advance(next.Sub(l.Now) - time.Second)
		if got := l.Settle(); len(got) != 0 {
			t.Errorf("a second before the wake-up: appended %q", l.Summary(got))
		}
		l.Advance(time.Second)
		got := l.Settle()
		if len(got) != 1 || got[0].Type != "replicaset.status" || rs().AvailableReplicas != want {
			t.Errorf("at the wake-up: appended %q, %d available, want a status with %d", l.Summary(got), rs().AvailableReplicas, want)
		}
	}
	if next, ok := l.NextWake(); ok {
		t.Errorf("a wake-up at %s with every pod available", next)
	}
}
