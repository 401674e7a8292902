package gc

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func ref(kind, name string) events.Ref { return events.Ref{Kind: kind, Namespace: "shop", Name: name} }

func owned(uid string, owners ...string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{UID: types.UID(uid), Namespace: "shop"}
	for _, o := range owners {
		m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "Thing", Name: o, UID: types.UID(o)})
	}
	return m
}

func event(r events.Ref, verb string, seq uint64, actor string, obj object.Object) *events.Event {
	k, _ := object.ByKind(r.Kind)
	var payload any = &object.Deletion{}
	if obj != nil {
		obj.SetName(r.Name)
		raw, _ := json.Marshal(obj)
		payload = &object.Change{Object: raw}
	}
	if verb == object.Status {
		payload = &object.StatusChange{Status: json.RawMessage(`{}`)}
	}
	raw, _ := json.Marshal(payload)
	return &events.Event{ID: "id-" + strconv.FormatUint(seq, 10), Type: object.EventType(k, verb), Seq: seq, Object: r,
		Time: t0, Actor: actor, Correlation: "corr", Schema: events.SchemaVersion, Payload: raw}
}

type decision struct {
	Type     string
	Object   string
	Expected uint64
}

// collect is one round of the collector over s: every gone owner touched after
// seq, decided.
func collect(t *testing.T, s *projections.MemState, after uint64) []decision {
	t.Helper()
	owners, err := reconcile.TouchedSince(s, after)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := decideRound(s, owners, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	out := []decision{}
	for _, st := range plan {
		a := st.Action
		if a.Event.Actor != Actor || a.Event.Cause == "" || a.Event.Correlation != "corr" || a.Event.Reason == "" {
			t.Errorf("%s %s: actor %q cause %q correlation %q reason %q", a.Event.Type, a.Event.Object, a.Event.Actor, a.Event.Cause, a.Event.Correlation, a.Event.Reason)
		}
		out = append(out, decision{a.Event.Type, a.Event.Object.String(), a.Expected})
	}
	return out
}

func TestCascade(t *testing.T) {
	s := projections.NewMemState()
	grace := int64(5)
	pod := func(uid string, owners ...string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: owned(uid, owners...), Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace}}
	}
	steps := []struct {
		ev   *events.Event
		want []decision // a round after the step
	}{
		{event(ref("Deployment", "web"), object.Created, 1, "user:alice", &appsv1.Deployment{ObjectMeta: owned("D")}), []decision{}},
		{event(ref("ReplicaSet", "web-1"), object.Created, 2, "system:deployment-controller", &appsv1.ReplicaSet{ObjectMeta: owned("R", "D")}), []decision{}},
		{event(ref("Pod", "web-1-a"), object.Created, 3, "system:replicaset-controller", pod("P1", "R")), []decision{}},
		{event(ref("Pod", "web-1-b"), object.Created, 4, "system:replicaset-controller", pod("P2", "R")), []decision{}},
		{event(ref("Pod", "web-1-b"), object.Unschedulable, 5, "system:scheduler", nil), []decision{}},
		// A dependent folded before its owner (not what wake's writers do) waits for it.
		{event(ref("ConfigMap", "shared"), object.Created, 6, "user:alice", &corev1.ConfigMap{ObjectMeta: owned("C", "D", "X")}), []decision{}},
		{event(ref("ConfigMap", "x"), object.Created, 7, "user:alice", &corev1.ConfigMap{ObjectMeta: owned("X")}), []decision{}},
		// Deleting the Deployment: its ReplicaSet goes; the ConfigMap has another live owner.
		{event(ref("Deployment", "web"), object.Deleted, 8, "user:alice", nil), []decision{{"replicaset.deleted", "ReplicaSet/shop/web-1", 2}}},
		// The ReplicaSet's deletion: its pods go, gracefully, at their versions.
		{event(ref("ReplicaSet", "web-1"), object.Deleted, 9, Actor, nil), []decision{
			{"pod.deleting", "Pod/shop/web-1-a", 3}, {"pod.deleting", "Pod/shop/web-1-b", 5}}},
		{event(ref("Pod", "web-1-a"), object.Deleting, 10, Actor, nil), []decision{{"pod.deleting", "Pod/shop/web-1-b", 5}}},
		{event(ref("Pod", "web-1-b"), object.Deleting, 11, Actor, nil), []decision{}},
		// Its other owner deleted too, the shared ConfigMap goes.
		{event(ref("ConfigMap", "x"), object.Deleted, 12, "user:alice", nil), []decision{{"configmap.deleted", "ConfigMap/shop/shared", 6}}},
		// An object created naming an owner that no longer exists is garbage at once.
		{event(ref("Pod", "late"), object.Created, 13, "system:replicaset-controller", pod("P3", "R")), []decision{
			{"pod.deleting", "Pod/shop/late", 13}, {"configmap.deleted", "ConfigMap/shop/shared", 6}}},
	}
	after := uint64(0)
	for _, st := range steps {
		if err := Fold(s, st.ev); err != nil {
			t.Fatalf("seq %d: %v", st.ev.Seq, err)
		}
		if got := collect(t, s, 0); !reflect.DeepEqual(got, st.want) {
			t.Errorf("after seq %d: a full round decides %+v, want %+v", st.ev.Seq, got, st.want)

		}
		// What changed is what a round since the previous step sees, and no more.
		if got := collect(t, s, after); len(got) > len(st.want) {
			t.Errorf("after seq %d: the touched round decides %+v", st.ev.Seq, got)
		}
		after = st.ev.Seq
	}
	cause, _, _, _ := loadOwner(s, "R")
	if cause.ID != "id-9" || cause.Payload != nil {
		t.Errorf("R's cause = %q, want the ReplicaSet's deletion id-9 (without payload)", cause.ID)
	}
	// Once the last dependent is deleted, nothing is left of the gone owner.
	for i, name := range []string{"web-1-a", "web-1-b", "late"} {
		if err := Fold(s, event(ref("Pod", name), object.Deleted, uint64(20+i), "system:node-agent", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := Fold(s, event(ref("ConfigMap", "shared"), object.Deleted, 30, Actor, nil)); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"g\x00", "d\x00", "t\x00", "c\x00", "u\x00"} {
		_ = s.Scan([]byte(prefix), false, func(k, _ []byte) bool {
			t.Errorf("after every object is deleted %q remains", k)
			return true
		})
	}
}

func TestDecide(t *testing.T) {
	grace := int64(7)
	cause := events.Event{ID: "del-1", Type: "replicaset.deleted", Object: ref("ReplicaSet", "web-1"), Correlation: "corr-0", Time: t0}
	deps := []Dependent{
		{Ref: ref("Pod", "a"), UID: "pa", Version: 3, Grace: &grace},
		{Ref: ref("Pod", "b"), UID: "pb", Version: 4, Deleting: true},
		{Ref: ref("ConfigMap", "c"), UID: "cc", Version: 5, LiveOwners: 1},
		{Ref: ref("Service", "d"), UID: "sd", Version: 6},
	}
	actions := Decide(cause, deps)
	want := []decision{{"pod.deleting", "Pod/shop/a", 3}, {"service.deleted", "Service/shop/d", 6}}
	var got []decision
	for _, a := range actions {
		got = append(got, decision{a.Event.Type, a.Event.Object.String(), a.Expected})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decide = %+v, want %+v", got, want)
	}
	var d object.Deletion
	_ = json.Unmarshal(actions[0].Event.Payload, &d)
	if d.UID != "pa" || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != 7 || d.Propagation != "Background" {
		t.Errorf("pod deletion = %+v", d)
	}
	if r := actions[1].Event.Reason; r != "garbage collection: its owner replicaset.apps/web-1 was deleted" {
		t.Errorf("reason = %q", r)
	}
	again := Decide(cause, deps)
	if again[0].Event.ID != actions[0].Event.ID || actions[0].Event.ID == actions[1].Event.ID {
		t.Errorf("ids %s %s then %s: not stable or not distinct", actions[0].Event.ID, actions[1].Event.ID, again[0].Event.ID)
	}
	deps[0].Version = 9
	if Decide(cause, deps)[0].Event.ID == actions[0].Event.ID {
		t.Error("a newer version of the dependent kept the id")
	}
}
