package replicaset

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// objectEvent is an event about obj with payload, appended by actor at seq.
func objectEvent(kind, verb string, ns, name string, seq uint64, actor string, payload any) *events.Event {
	k, _ := object.ByKind(kind)
	raw, _ := json.Marshal(payload)
	return &events.Event{ID: "id-" + strconv.FormatUint(seq, 10), Type: object.EventType(k, verb), Seq: seq,
		Object: events.Ref{Kind: kind, Namespace: ns, Name: name}, Time: t0.Add(time.Duration(seq) * time.Second),
		Actor: actor, Correlation: "corr", Schema: events.SchemaVersion, Payload: raw}
}

// inNodeInbox moves ev to the pod's facet in node n1's inbox.
func inNodeInbox(ev *events.Event) *events.Event {
	ev.Object.Node = "n1"
	return ev
}

func change(obj any) *object.Change {
	raw, _ := json.Marshal(obj)
	return &object.Change{Object: raw}
}

func TestFold(t *testing.T) {
	s := projections.NewMemState()
	rs := replicaSet(2, 0)
	rs.ResourceVersion, rs.Generation = "", 0
	owned := func(name string) *corev1.Pod { return newPod(rs, name, types.UID("uid-"+name)) }
	stray := owned("stray")
	stray.OwnerReferences = nil
	readyStatus, _ := json.Marshal(corev1.PodStatus{Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}})
	steps := []struct {
		ev      *events.Event
		touched []string // owners touched after the previous step
		cause   string   // the owner's causes after the step: of creations and deletions,
		status  string   // and of a status update
	}{
		{objectEvent("ReplicaSet", object.Created, "shop", "web", 1, "user:alice", change(rs)), []string{"shop\x00web"}, "id-1", "id-1"},
		{objectEvent("Pod", object.Created, "shop", "web-a", 2, Actor, change(owned("web-a"))), []string{"shop\x00web"}, "id-1", "id-1"},
		{objectEvent("Pod", object.Created, "shop", "web-b", 3, Actor, change(owned("web-b"))), []string{"shop\x00web"}, "id-1", "id-1"},
		{objectEvent("Pod", object.Created, "shop", "stray", 4, "user:bob", change(stray)), nil, "id-1", "id-1"},
		{inNodeInbox(objectEvent("Pod", object.Status, "shop", "web-a", 5, "system:node-agent", &object.StatusChange{Status: readyStatus})), []string{"shop\x00web"}, "id-1", "id-5"},
		{objectEvent("Pod", object.Unschedulable, "shop", "web-b", 6, "system:scheduler", &object.Binding{Message: "no nodes"}), []string{"shop\x00web"}, "id-1", "id-6"},
		{objectEvent("Pod", object.Deleting, "shop", "web-b", 7, Actor, &object.Deletion{UID: "uid-web-b"}), []string{"shop\x00web"}, "id-1", "id-6"},
		{objectEvent("Pod", object.Deleted, "shop", "web-b", 8, "user:bob", &object.Deletion{}), []string{"shop\x00web"}, "id-8", "id-8"},
	}
	after := uint64(0)
	for _, st := range steps {
		if err := Fold(s, st.ev); err != nil {
			t.Fatalf("seq %d: %v", st.ev.Seq, err)
		}
		got, err := reconcile.TouchedSince(s, after)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st.touched) {
			t.Errorf("seq %d touched %q, want %q", st.ev.Seq, got, st.touched)
		}
		if status, cause, _ := kit.Causes(s, "shop\x00web"); status.ID != st.status || cause.ID != st.cause || cause.Payload != nil {
			t.Errorf("seq %d: causes %q and %q, want %q and %q without payload", st.ev.Seq, cause.ID, status.ID, st.cause, st.status)
		}
		after = st.ev.Seq
	}
	if n, _ := readCounter(s, string(rs.UID)); n != 2 {
		t.Errorf("created counter = %d, want 2 (the stray pod is not the ReplicaSet's)", n)
	}
	owner, ok, err := kit.Load(s, "shop\x00web")
	if err != nil || !ok {
		t.Fatalf("Load = %v %v", ok, err)
	}
	in, err := input(s, owner, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Pods) != 1 || in.Pods[0].Name != "web-a" || !podReady(in.Pods[0].Pod) || in.Pods[0].Version != 2 || in.Created != 2 || in.Cause.ID != "id-8" {
		t.Errorf("input = %d pods, created %d, cause %s; want web-a ready, 2, id-8", len(in.Pods), in.Created, in.Cause.ID)
	}
	for _, n := range []struct {
		name    string
		version uint64
		live    bool
	}{{"web-a", 0, true}, {"web-b", 8, false}, {"stray", 0, true}, {"never", 0, false}} {
		if v, live, err := kit.NameState(s, "shop", n.name); err != nil || v != n.version || live != n.live {
			t.Errorf("name %s: version %d live %v (%v), want %d %v", n.name, v, live, err, n.version, n.live)
		}
	}
	// Only the newest touch of each owner stays in the log.
	if all, _ := reconcile.TouchedSince(s, 0); !reflect.DeepEqual(all, []string{"shop\x00web"}) {
		t.Errorf("touch log = %q, want one entry", all)
	}

	if err := Fold(s, objectEvent("ReplicaSet", object.Deleted, "shop", "web", 9, "user:alice", &object.Deletion{})); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"r\x00", "u\x00", "k\x00", "t\x00", "c\x00", "e\x00", "m\x00"} {
		_ = s.Scan([]byte(prefix), false, func(k, _ []byte) bool {
			t.Errorf("after the ReplicaSet's deletion %q remains", k)
			return true
		})
	}
	// Its pods stay indexed until they are deleted; their events touch nothing.
	if err := Fold(s, objectEvent("Pod", object.Deleted, "shop", "web-a", 10, "system:garbage-collector-controller", &object.Deletion{})); err != nil {
		t.Fatal(err)
	}
	_ = s.Scan([]byte("i\x00"), false, func(k, _ []byte) bool {
		t.Errorf("index entry %q outlived its pod", k)
		return true
	})

	// A node's report about a pod that is gone is no news.
	if err := Fold(s, inNodeInbox(objectEvent("Pod", object.Status, "shop", "web-a", 11, "system:node-agent", &object.StatusChange{Status: readyStatus}))); err != nil {
		t.Errorf("status of a deleted pod: %v", err)
	}
	bad := objectEvent("Pod", object.Updated, "shop", "missing", 12, "user:bob", change(stray))
	if err := Fold(s, bad); !errors.Is(err, object.ErrFold) {
		t.Errorf("update of a missing pod = %v, want ErrFold", err)
	}
}
