package reconcile_test

import (
	"encoding/json"
	"reflect"
	"regexp"
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

const actor = "system:test-controller"

var (
	rsKind, _  = object.ByKind("ReplicaSet")
	podKind, _ = object.ByKind("Pod")
	kit        = reconcile.Owned{Actor: actor, Owner: rsKind, Child: podKind, OwnerPrefix: "r", ChildPrefix: "p"}
)

func event(kind, verb, ns, name string, seq uint64, by string, payload any) *events.Event {
	k, _ := object.ByKind(kind)
	raw, _ := json.Marshal(payload)
	return &events.Event{ID: "id-" + strconv.FormatUint(seq, 10), Type: object.EventType(k, verb), Seq: seq,
		Object: events.Ref{Kind: kind, Namespace: ns, Name: name}, Actor: by, Schema: events.SchemaVersion, Payload: raw}
}

func change(obj any) *object.Change {
	raw, _ := json.Marshal(obj)
	return &object.Change{Object: raw}
}

func owner(replicas int32) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "rs-uid"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.25"}}}}}}
	object.Default(rs)
	return rs
}

func child(ns, name string, controller types.UID) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.25"}}}}
	if controller != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: controller, Controller: new(bool)}}
		*p.OwnerReferences[0].Controller = true
	}
	object.Default(p)
	return p
}

// TestOwnedFolds folds a table of events and checks, after each, which owners
// were touched, the owner's causes, and whether created was called.
func TestOwnedFolds(t *testing.T) {
	s := projections.NewMemState()
	var created []string
	counts := func(prev, next *object.Stored) bool { return prev == nil || next == nil }
	fold := func(ev *events.Event) error {
		if ev.Object.Kind == "ReplicaSet" {
			_, _, err := kit.FoldOwner(s, ev, func(prev, next *object.Stored) bool {
				return *prev.Object.(*appsv1.ReplicaSet).Spec.Replicas != *next.Object.(*appsv1.ReplicaSet).Spec.Replicas
			})
			return err
		}
		return kit.FoldChild(s, ev, counts, func(_ projections.State, uid string) error {
			created = append(created, uid)
			return nil
		})
	}
	report := event("Pod", object.Status, "shop", "ghost", 9, "system:node-agent", &object.StatusChange{Status: json.RawMessage(`{}`)})
	report.Object.Node = "n1"
	steps := []struct {
		ev        *events.Event
		touched   bool   // the owner was touched
		cause     string // its causes after the step
		specCause string
		created   int // calls of created so far
	}{
		{event("ReplicaSet", object.Created, "shop", "web", 1, "user:alice", change(owner(2))), true, "id-1", "id-1", 0},
		{event("Pod", object.Created, "shop", "web-a", 2, actor, change(child("shop", "web-a", "rs-uid"))), true, "id-1", "id-1", 1},
		{event("Pod", object.Created, "shop", "stray", 3, "user:bob", change(child("shop", "stray", ""))), false, "id-1", "id-1", 1},
		{event("Pod", object.Created, "other", "web-a", 4, "user:eve", change(child("other", "web-a", "rs-uid"))), false, "id-1", "id-1", 1},
		{event("Pod", object.Unschedulable, "shop", "web-a", 5, "system:scheduler", &object.Binding{Message: "no nodes"}), true, "id-5", "id-1", 1},
		{event("ReplicaSet", object.Updated, "shop", "web", 6, "user:alice", change(owner(3))), true, "id-6", "id-6", 1},
		{event("Pod", object.Deleted, "shop", "web-a", 7, "user:bob", &object.Deletion{}), true, "id-7", "id-7", 1},
		{event("ReplicaSet", object.Status, "shop", "web", 8, actor, &object.StatusChange{Status: json.RawMessage(`{"replicas":0}`)}), true, "id-7", "id-7", 1},
		{report, false, "id-7", "id-7", 1},
	}
	after := uint64(0)
	for _, st := range steps {
		if err := fold(st.ev); err != nil {
			t.Fatalf("seq %d: %v", st.ev.Seq, err)
		}
		got, _ := reconcile.TouchedSince(s, after)
		if touched := reflect.DeepEqual(got, []string{"shop\x00web"}); touched != st.touched {
			t.Errorf("seq %d touched %q, want the owner touched: %v", st.ev.Seq, got, st.touched)
		}
		cause, spec, err := kit.Causes(s, "shop\x00web")
		if err != nil || cause.ID != st.cause || spec.ID != st.specCause || cause.Payload != nil {
			t.Errorf("seq %d: causes %q and %q (%v), want %q and %q without payload", st.ev.Seq, cause.ID, spec.ID, err, st.cause, st.specCause)
		}
		if len(created) != st.created {
			t.Errorf("seq %d: created called for %q, want %d calls", st.ev.Seq, created, st.created)
		}
		after = st.ev.Seq
	}
	for _, n := range []struct {
		ns, name string
		version  uint64
		live     bool
	}{{"shop", "web-a", 7, false}, {"shop", "stray", 0, true}, {"shop", "never", 0, false}, {"other", "web-a", 0, true}} {
		if v, live, err := kit.NameState(s, n.ns, n.name); err != nil || v != n.version || live != n.live {
			t.Errorf("name %s/%s: version %d live %v (%v), want %d %v", n.ns, n.name, v, live, err, n.version, n.live)
		}
	}

	// A child re-created under the name is the owner's again; one in another
	// namespace naming the owner's uid is never its child.
	if err := fold(event("Pod", object.Created, "shop", "web-a", 10, actor, change(child("shop", "web-a", "rs-uid")))); err != nil {
		t.Fatal(err)
	}
	st, ok, err := kit.Load(s, "shop\x00web")
	if err != nil || !ok || st.Version != 8 || st.Key != "shop\x00web" || len(st.Children) != 1 ||
		st.Children[0].Object.GetName() != "web-a" || st.Children[0].Object.GetNamespace() != "shop" || st.Children[0].Version != 10 {
		t.Fatalf("Load = %+v %v %v, want web at 8 with its one child web-a at 10", st, ok, err)
	}
	if v, live := st.Names("web-a"); v != 0 || !live {
		t.Errorf("Names(web-a) = %d %v, want live", v, live)
	}

	// Decision rounds decide for the owners that exist, in order.
	var decided []string
	round := kit.Round(func(_ projections.Reader, st reconcile.OwnerState, _ time.Time) ([]reconcile.Action, error) {
		decided = append(decided, st.Key)
		return []reconcile.Action{reconcile.NewAction(actor, st.Cause, "replicaset.status", events.Ref{Kind: "ReplicaSet", Namespace: "shop", Name: "web"}, st.Version, "test", nil)}, nil
	})
	plan, err := round(s, []string{"shop\x00gone", "shop\x00web"}, time.Time{})
	if err != nil || !reflect.DeepEqual(decided, []string{"shop\x00web"}) || len(plan) != 1 || plan[0].Owner != "shop\x00web" ||
		plan[0].Action.Expected != 8 || plan[0].Action.Event.Cause != "id-7" {
		t.Errorf("round decided %q: %+v, %v; want one step for web, guarded by 8, caused by id-7", decided, plan, err)
	}

	// The owner's deletion leaves no trace of it; its children stay until deleted.
	if err := fold(event("ReplicaSet", object.Deleted, "shop", "web", 11, "user:alice", &object.Deletion{})); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"r\x00", "u\x00", "t\x00", "c\x00", "e\x00", "m\x00"} {
		_ = s.Scan([]byte(prefix), false, func(k, _ []byte) bool {
			t.Errorf("after the owner's deletion %q remains", k)
			return true
		})
	}
	for _, name := range []string{"web-a"} {
		if err := fold(event("Pod", object.Deleted, "shop", name, 12, "user:bob", &object.Deletion{})); err != nil {
			t.Fatal(err)
		}
	}
	if err := fold(event("Pod", object.Deleted, "other", "web-a", 13, "user:bob", &object.Deletion{})); err != nil {
		t.Fatal(err)
	}
	_ = s.Scan([]byte("i\x00"), false, func(k, _ []byte) bool {
		t.Errorf("index entry %q outlived its child", k)
		return true
	})
}

func TestNewActionIsIdempotent(t *testing.T) {
	cause := events.Event{ID: "c1", Correlation: "corr", Time: time.Unix(5, 0)}
	ref := events.Ref{Kind: "Pod", Namespace: "shop", Name: "a"}
	a := reconcile.NewAction(actor, cause, "pod.deleting", ref, 4, "r", &object.Deletion{})
	b := reconcile.NewAction(actor, cause, "pod.deleting", ref, 4, "another reason", &object.Deletion{UID: "x"})
	if a.Event.ID != b.Event.ID || a.Event.ID != events.DerivedID(actor, "c1", "pod.deleting", ref, 4) {
		t.Errorf("one decision got ids %s and %s", a.Event.ID, b.Event.ID)
	}
	if a.Expected != 4 || a.Event.Cause != "c1" || a.Event.Correlation != "corr" || a.Event.Actor != actor || !a.Event.Time.Equal(cause.Time) {
		t.Errorf("action = %+v", a.Event)
	}
	if c := reconcile.NewAction(actor, events.Event{}, "pod.deleting", ref, 4, "r", nil); c.Event.Cause != "" || c.Event.ID == a.Event.ID {
		t.Errorf("an action without a cause: %+v", c.Event)
	}
}

func TestDerivedUID(t *testing.T) {
	uuid8 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := reconcile.DerivedUID("a|0|0"), reconcile.DerivedUID("a|1|0")
	if a == b || a != reconcile.DerivedUID("a|0|0") || !uuid8.MatchString(string(a)) || !uuid8.MatchString(string(b)) {
		t.Errorf("derived uids are not stable, distinct version-8 UUIDs: %s %s", a, b)
	}
}
