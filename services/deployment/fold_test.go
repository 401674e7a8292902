package deployment

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
)

func objectEvent(kind, verb, ns, name string, seq uint64, actor string, payload any) *events.Event {
	k, _ := object.ByKind(kind)
	raw, _ := json.Marshal(payload)
	return &events.Event{ID: "id-" + strconv.FormatUint(seq, 10), Type: object.EventType(k, verb), Seq: seq,
		Object: events.Ref{Kind: kind, Namespace: ns, Name: name}, Time: t0.Add(time.Duration(seq) * time.Second),
		Actor: actor, Correlation: "corr", Schema: events.SchemaVersion, Payload: raw}
}

func TestFold(t *testing.T) {
	s := projections.NewMemState()
	d := deployment(3)
	d.ResourceVersion, d.Generation = "", 0
	rs := replicaSetOf(d, 0, 3, 0, 0, 1).ReplicaSet
	rs.ResourceVersion, rs.Generation, rs.Status = "", 0, appsv1.ReplicaSetStatus{}
	foreign := rs.DeepCopy()
	foreign.Name, foreign.OwnerReferences = "other", nil
	rsStatus, _ := json.Marshal(appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2})
	name := rs.Name
	scaled := d.DeepCopy()
	scaled.Spec.Replicas = ptrTo[int32](5)
	steps := []struct {
		ev        *events.Event
		touched   []string
		cause     string
		specCause string
	}{
		{objectEvent("Deployment", object.Created, "shop", "web", 1, "user:alice", change(d)), []string{"shop\x00web"}, "id-1", "id-1"},
		{objectEvent("ReplicaSet", object.Created, "shop", name, 2, Actor, change(rs)), []string{"shop\x00web"}, "id-1", "id-1"},
		{objectEvent("ReplicaSet", object.Created, "shop", "other", 3, "user:bob", change(foreign)), nil, "id-1", "id-1"},
		{objectEvent("ReplicaSet", object.Status, "shop", name, 4, "system:replicaset-controller", &object.StatusChange{Status: rsStatus}), []string{"shop\x00web"}, "id-4", "id-1"},
		{objectEvent("Deployment", object.Updated, "shop", "web", 5, "user:alice", change(scaled)), []string{"shop\x00web"}, "id-5", "id-5"},
	}
	after := uint64(0)
	for _, st := range steps {
		if err := Fold(s, st.ev); err != nil {
			t.Fatalf("seq %d: %v", st.ev.Seq, err)
		}
		got, _ := reconcile.TouchedSince(s, after)
		if !reflect.DeepEqual(got, st.touched) {
			t.Errorf("seq %d touched %q, want %q", st.ev.Seq, got, st.touched)
		}
		if cause, spec, _ := kit.Causes(s, "shop\x00web"); cause.ID != st.cause || spec.ID != st.specCause {
			t.Errorf("seq %d: causes %q and %q, want %q and %q", st.ev.Seq, cause.ID, spec.ID, st.cause, st.specCause)
		}
		after = st.ev.Seq
	}
	owner, ok, err := kit.Load(s, "shop\x00web")
	in := input(owner)
	if err != nil || !ok || len(in.ReplicaSets) != 1 || in.ReplicaSets[0].Status.ReadyReplicas != 2 || in.ReplicaSets[0].Version != 4 ||
		in.Deployment.Generation != 2 || in.Version != 5 {
		t.Fatalf("loadInput = %+v %v %v, want web with its one ReplicaSet", in, ok, err)
	}
	if err := Fold(s, objectEvent("ReplicaSet", object.Deleted, "shop", name, 6, "system:garbage-collector-controller", &object.Deletion{})); err != nil {
		t.Fatal(err)
	}
	if v, live, _ := kit.NameState(s, "shop", name); v != 6 || live {
		t.Errorf("deleted ReplicaSet's name: version %d live %v, want its tombstone 6", v, live)
	}
	if _, live, _ := kit.NameState(s, "shop", "other"); !live {
		t.Error("a live ReplicaSet's name is free")
	}
	if err := Fold(s, objectEvent("Deployment", object.Deleted, "shop", "web", 7, "user:alice", &object.Deletion{})); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"d\x00", "u\x00", "i\x00", "t\x00", "c\x00", "e\x00", "m\x00"} {
		_ = s.Scan([]byte(prefix), false, func(k, _ []byte) bool {
			t.Errorf("after the Deployment's deletion %q remains", k)
			return true
		})
	}
}
