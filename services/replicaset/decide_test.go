package replicaset

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var (
	t0    = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	scale = events.Event{ID: "scale-1", Type: "replicaset.updated", Object: events.Ref{Kind: "ReplicaSet", Namespace: "shop", Name: "web"},
		Time: t0, Actor: "user:alice", Correlation: "corr-1", Schema: events.SchemaVersion, Seq: 20}
	webUID = types.UID("6f1d2c4e-0000-4000-8000-000000000001")
)

func replicaSet(replicas int32, version uint64) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: webUID, Generation: 2,
			ResourceVersion: strconv.FormatUint(version, 10)},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
			},
		},
	}
	rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	object.Default(rs)
	return rs
}

type podOpt func(*corev1.Pod)

func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func readySince(t time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t)}}
	}
}
func phase(ph corev1.PodPhase) podOpt     { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func labelled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }
func inNamespace(ns string) podOpt        { return func(p *corev1.Pod) { p.Namespace = ns } }
func terminating() podOpt {
	return func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: t0} }
}

// pod is a pod of web created at minute createdAt, its subject at version (its
// resourceVersion, which counts its node's reports too, is later).
func pod(name string, version uint64, createdAt int, opts ...podOpt) Pod {
	p := newPod(replicaSet(1, 1), name, types.UID("uid-"+name))
	p.ResourceVersion = strconv.FormatUint(version+1000, 10)
	p.CreationTimestamp = metav1.NewTime(t0.Add(time.Duration(createdAt) * time.Minute))
	p.Status.Phase = corev1.PodPending
	for _, o := range opts {
		o(p)
	}
	return Pod{Pod: p, Version: version}
}

func noNames(string) (uint64, bool) { return 0, false }

// decision is the part of an Action a table states.
type decision struct {
	Type     string
	Object   string
	Expected uint64
}

func decisions(actions []Action) []decision {
	out := []decision{}
	for _, a := range actions {
		out = append(out, decision{a.Event.Type, a.Event.Object.String(), a.Expected})
	}
	return out
}

func upToDate(rs *appsv1.ReplicaSet, replicas, ready, available int32) *appsv1.ReplicaSet {
	rs.Status = appsv1.ReplicaSetStatus{Replicas: replicas, FullyLabeledReplicas: replicas, ReadyReplicas: ready,
		AvailableReplicas: available, ObservedGeneration: rs.Generation}
	return rs
}

func TestDecide(t *testing.T) {
	name := func(i uint64) string { return "Pod/shop/" + PodName("web", webUID, i) }
	cases := []struct {
		name  string
		in    Input
		want  []decision
		check func(t *testing.T, actions []Action)
	}{
		{
			name: "new replicaset: create three pods and report zero replicas",
			in:   Input{ReplicaSet: replicaSet(3, 10)},
			want: []decision{
				{"pod.created", name(0), 0}, {"pod.created", name(1), 0}, {"pod.created", name(2), 0},
				{"replicaset.status", "ReplicaSet/shop/web", 10},
			},
		},
		{
			name: "names continue after the pods created before",
			in:   Input{ReplicaSet: upToDate(replicaSet(3, 10), 2, 0, 0), Pods: []Pod{pod("a", 4, 0), pod("b", 5, 1)}, Created: 7},
			want: []decision{{"pod.created", name(7), 0}},
		},
		{
			name: "in step and status current: nothing",
			in:   Input{ReplicaSet: upToDate(replicaSet(2, 10), 2, 0, 0), Pods: []Pod{pod("a", 4, 0), pod("b", 5, 1)}, Created: 2},
			want: []decision{},
		},
		{
			name: "pods being deleted, finished, elsewhere or not selected do not count",
			in: Input{ReplicaSet: upToDate(replicaSet(1, 10), 0, 0, 0), Created: 4, Pods: []Pod{
				pod("a", 4, 0, terminating()), pod("b", 5, 1, phase(corev1.PodSucceeded)),
				pod("c", 6, 2, inNamespace("other")), pod("d", 7, 3, labelled(map[string]string{"app": "db"})),
			}},
			want: []decision{{"pod.created", name(4), 0}},
		},
		{
			name: "a name held by a live pod is skipped; a deleted one is reused from its tombstone",
			in: Input{ReplicaSet: upToDate(replicaSet(2, 10), 0, 0, 0), Names: func(n string) (uint64, bool) {
				switch n {
				case PodName("web", webUID, 0):
					return 0, true
				case PodName("web", webUID, 1):
					return 33, false
				}
				return 0, false
			}},
			want: []decision{{"pod.created", name(1), 33}, {"pod.created", name(2), 0}},
		},
		{
			name: "surplus: unscheduled first, then not ready, then newest; gracefully",
			in: Input{ReplicaSet: upToDate(replicaSet(2, 10), 6, 3, 3), Created: 6, Pods: []Pod{
				pod("ready-old", 1, 0, onNode("n1"), readySince(t0)),
				pod("ready-new", 2, 5, onNode("n1"), readySince(t0.Add(time.Hour))),
				pod("ready-recently", 3, 1, onNode("n2"), readySince(t0.Add(2*time.Hour))),
				pod("unscheduled", 4, 0),
				pod("running-not-ready", 5, 2, onNode("n2"), phase(corev1.PodRunning)),
				pod("pending-on-node", 6, 3, onNode("n1")),
			}},
			want: []decision{
				{"pod.deleting", "Pod/shop/unscheduled", 4},
				{"pod.deleting", "Pod/shop/pending-on-node", 6},
				{"pod.deleting", "Pod/shop/running-not-ready", 5},
				{"pod.deleting", "Pod/shop/ready-recently", 3},
			},
			check: func(t *testing.T, actions []Action) {
				var d object.Deletion
				if err := json.Unmarshal(actions[0].Event.Payload, &d); err != nil {
					t.Fatal(err)
				}
				if d.UID != "uid-unscheduled" || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != 30 {
					t.Errorf("deletion payload = %+v, want the pod's uid and its grace period 30", d)
				}
			},
		},
		{
			name: "status counts ready and available (minReadySeconds) pods",
			in: func() Input {
				rs := replicaSet(3, 10)
				rs.Spec.MinReadySeconds = 60
				return Input{ReplicaSet: rs, Now: t0.Add(2 * time.Minute), Created: 3, Pods: []Pod{
					pod("a", 1, 0, onNode("n1"), readySince(t0)),
					pod("b", 2, 0, onNode("n1"), readySince(t0.Add(90*time.Second))),
					pod("c", 3, 0, labelled(map[string]string{"app": "web"})),
				}}
			}(),
			want: []decision{{"replicaset.status", "ReplicaSet/shop/web", 10}},
			check: func(t *testing.T, actions []Action) {
				var sc object.StatusChange
				var st appsv1.ReplicaSetStatus
				if err := json.Unmarshal(actions[0].Event.Payload, &sc); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(sc.Status, &st); err != nil {
					t.Fatal(err)
				}
				want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 2}
				if !reflect.DeepEqual(st, want) {
					t.Errorf("status = %+v, want %+v", st, want)
				}
			},
		},
		{
			name: "being deleted: nothing (the garbage collector deletes its pods)",
			in: func() Input {
				rs := replicaSet(3, 10)
				rs.DeletionTimestamp = &metav1.Time{Time: t0}
				return Input{ReplicaSet: rs}
			}(),
			want: []decision{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Cause, tc.in.StatusCause = scale, scale
			tc.in.Version, _ = strconv.ParseUint(tc.in.ReplicaSet.ResourceVersion, 10, 64)
			if tc.in.Names == nil {
				tc.in.Names = noNames
			}
			actions := Decide(tc.in)
			if got := decisions(actions); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decide =\n%+v\nwant\n%+v", got, tc.want)
			}
			again := Decide(tc.in)
			for i, a := range actions {
				ev := a.Event
				if ev.Actor != Actor || ev.Cause != scale.ID || ev.Correlation != scale.Correlation {
					t.Errorf("%s: actor %q cause %q correlation %q", ev.Type, ev.Actor, ev.Cause, ev.Correlation)
				}
				if ev.Schema != events.SchemaVersion || ev.ID == "" || ev.Reason == "" {
					t.Errorf("event lacks schema, id or reason: %+v", ev)
				}
				if again[i].Event.ID != ev.ID || !reflect.DeepEqual(again[i].Event.Payload, ev.Payload) {
					t.Errorf("%s %s: a second decision differs (id %s, then %s)", ev.Type, ev.Object, ev.ID, again[i].Event.ID)
				}
			}
			if tc.check != nil {
				tc.check(t, actions)
			}
		})
	}
}

func TestCreatedPod(t *testing.T) {
	actions := Decide(Input{ReplicaSet: replicaSet(1, 10), Version: 10, Cause: scale, Names: noNames})
	var ch object.Change
	if err := json.Unmarshal(actions[0].Event.Payload, &ch); err != nil {
		t.Fatal(err)
	}
	podKind, _ := object.ByKind("Pod")
	obj, err := object.DecodeObject(podKind, ch.Object)
	if err != nil {
		t.Fatal(err)
	}
	p := obj.(*corev1.Pod)
	if !regexp.MustCompile(`^web-[bcdfghjklmnpqrstvwxz2456789]{5}$`).MatchString(p.Name) || p.Namespace != "shop" {
		t.Errorf("pod %s/%s, want shop/web-xxxxx", p.Namespace, p.Name)
	}
	if !reflect.DeepEqual(p.Labels, map[string]string{"app": "web", "tier": "front"}) {
		t.Errorf("labels = %v, want the template's", p.Labels)
	}
	want := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: webUID,
		Controller: ptrTo(true), BlockOwnerDeletion: ptrTo(true)}}
	if !reflect.DeepEqual(p.OwnerReferences, want) {
		t.Errorf("ownerReferences = %+v, want %+v", p.OwnerReferences, want)
	}
	if p.UID == "" || p.Spec.Containers[0].Image != "nginx:1.25" || p.Spec.EnableServiceLinks == nil {
		t.Errorf("pod lacks a uid, the template's spec or the pod defaults: %+v", p)
	}
	if errs := object.Validate(p); len(errs) > 0 {
		t.Errorf("created pod is invalid: %v", errs)
	}
	// Another index, another ReplicaSet uid, or another tombstone: another uid.
	other := Decide(Input{ReplicaSet: replicaSet(2, 10), Version: 10, Cause: scale, Names: noNames})
	if other[0].Event.ID != actions[0].Event.ID {
		t.Errorf("the same pod decided twice got ids %s and %s", actions[0].Event.ID, other[0].Event.ID)
	}
}

func TestPodNameIsBoundedAndStable(t *testing.T) {
	long := "a-very-long-replicaset-name-that-goes-on-and-on-beyond-the-limit-0123456789"
	n := PodName(long, webUID, 3)
	if len(n) != 63 || n != PodName(long, webUID, 3) {
		t.Errorf("PodName = %q (%d chars), want 63 and stable", n, len(n))
	}
	seen := map[string]bool{}
	for i := range uint64(1000) {
		seen[PodName("web", webUID, i)] = true
	}
	if len(seen) < 990 {
		t.Errorf("1000 indexes gave only %d names", len(seen))
	}
}

func TestDecideCauses(t *testing.T) {
	unschedulable := events.Event{ID: "unsched-1", Type: "pod.unschedulable", Object: events.Ref{Kind: "Pod", Namespace: "shop", Name: "a"},
		Time: t0, Actor: "system:scheduler", Correlation: "corr-9", Schema: events.SchemaVersion}
	actions := Decide(Input{ReplicaSet: replicaSet(1, 10), Version: 10, Cause: scale, StatusCause: unschedulable, Names: noNames})
	if got := decisions(actions); len(got) != 2 || actions[0].Event.Cause != scale.ID || actions[1].Event.Cause != unschedulable.ID {
		t.Errorf("%+v: the creation must react to the scale, the status to the newest event", got)
	}
}
