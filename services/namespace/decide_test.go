package namespace

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
)

var deletingShop = events.Event{ID: "del-1", Type: "namespace.deleting", Object: events.Ref{Kind: "Namespace", Name: "shop"},
	Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Actor: "user:alice", Correlation: "corr-1", Schema: events.SchemaVersion, Seq: 40}

// decision is the part of an Action a table states.
type decision struct {
	Type     string
	Object   events.Ref
	Expected uint64
}

func decisions(actions []Action) []decision {
	out := []decision{}
	for _, a := range actions {
		out = append(out, decision{a.Event.Type, a.Event.Object, a.Expected})
	}
	return out
}

func TestDecide(t *testing.T) {
	terminating := nsState{Version: 40, Terminating: true, Deleting: deletingShop, Contents: 33}
	grace := int64(7)
	cases := []struct {
		name    string
		st      nsState
		members []Member
		want    []decision
	}{
		{"active namespace: nothing", nsState{Version: 3}, []Member{{events.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "a"}, 5, nil}}, []decision{}},
		{"active and empty: nothing", nsState{Version: 3}, nil, []decision{}},
		{"terminating with members: delete each at its version", terminating, []Member{
			{events.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "a"}, 5, nil},
			{events.Ref{Kind: "Deployment", Namespace: "shop", Name: "web"}, 17, nil},
			{events.Ref{Kind: "Service", Namespace: "shop", Name: "web"}, 9, nil},
		}, []decision{
			{"configmap.deleted", events.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "a"}, 5},
			{"deployment.deleted", events.Ref{Kind: "Deployment", Namespace: "shop", Name: "web"}, 17},
			{"service.deleted", events.Ref{Kind: "Service", Namespace: "shop", Name: "web"}, 9},
		}},
		{"terminating with pods: delete each gracefully, leave one being deleted to finish", terminating, []Member{
			{events.Ref{Kind: "Pod", Namespace: "shop", Name: "a"}, 5, &podMember{UID: "ua", Grace: &grace}},
			{events.Ref{Kind: "Pod", Namespace: "shop", Name: "b"}, 6, &podMember{UID: "ub", Deleting: true}},
		}, []decision{
			{"pod.deleting", events.Ref{Kind: "Pod", Namespace: "shop", Name: "a"}, 5},
		}},
		{"terminating with only pods being deleted: wait for them", terminating, []Member{
			{events.Ref{Kind: "Pod", Namespace: "shop", Name: "b"}, 6, &podMember{UID: "ub", Deleting: true}},
		}, []decision{}},
		{"terminating and empty: delete the namespace, guarded by the last event of its contents", terminating, nil, []decision{
			{"namespace.deleted", events.Ref{Kind: "Namespace", Name: "shop"}, 33},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			actions := Decide("shop", tc.st, tc.members)
			if got := decisions(actions); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decide = %+v, want %+v", got, tc.want)
			}
			for _, a := range actions {
				ev := a.Event
				if ev.Actor != "system:namespace-controller" {
					t.Errorf("actor = %q", ev.Actor)
				}
				if ev.Cause != deletingShop.ID || ev.Correlation != deletingShop.Correlation {
					t.Errorf("cause %q correlation %q, want %q and %q", ev.Cause, ev.Correlation, deletingShop.ID, deletingShop.Correlation)
				}
				if ev.Schema != events.SchemaVersion || ev.ID == "" || ev.Reason == "" {
					t.Errorf("event lacks schema, id or reason: %+v", ev)
				}
				if ev.Reason != "namespace shop is being deleted" {
					t.Errorf("reason = %q", ev.Reason)
				}
				if ev.Type == "pod.deleting" {
					var d object.Deletion
					if err := json.Unmarshal(ev.Payload, &d); err != nil || d.UID != "ua" || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != grace {
						t.Errorf("pod deletion %s (%v), want uid ua and the pod's grace period %d", ev.Payload, err, grace)
					}
				}
			}
		})
	}
}

func TestDecideIDsAreDeterministic(t *testing.T) {
	st := nsState{Version: 40, Terminating: true, Deleting: deletingShop}
	members := []Member{
		{events.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "a"}, 5, nil},
		{events.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "b"}, 6, nil},
		{events.Ref{Kind: "Secret", Namespace: "shop", Name: "a"}, 7, nil},
	}
	ids := func(actions []Action) []string {
		var out []string
		for _, a := range actions {
			out = append(out, a.Event.ID)
		}
		return out
	}
	first, again := ids(Decide("shop", st, members)), ids(Decide("shop", st, members))
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("same inputs gave ids %v then %v", first, again)
	}
	seen := map[string]bool{}
	for _, id := range first {
		if seen[id] {
			t.Errorf("id %s used for two deletions", id)
		}
		seen[id] = true
	}
	// A newer version of a member is a new decision: a new id.
	members[0].Version = 8
	if moved := ids(Decide("shop", st, members)); moved[0] == first[0] || moved[1] != first[1] {
		t.Errorf("ids after member a moved = %v, before %v", moved, first)
	}
	// Another deletion of the namespace (after it was re-created) decides anew.
	other := st
	other.Deleting.ID = "del-2"
	members[0].Version = 5
	if ids(Decide("shop", other, members))[0] == first[0] {
		t.Errorf("a different cause gave the same id")
	}
	nsIDs := ids(Decide("shop", st, nil))
	if len(nsIDs) != 1 || nsIDs[0] != ids(Decide("shop", st, nil))[0] {
		t.Errorf("namespace deletion ids = %v", nsIDs)
	}
}

// nsFoldEvent is an event of the namespace projection's interest.
func nsFoldEvent(kind, ns, name, verb string, seq uint64) *events.Event {
	k, _ := object.ByKind(kind)
	return &events.Event{ID: "id-" + strconv.FormatUint(seq, 10), Type: object.EventType(k, verb), Seq: seq,
		Object: events.Ref{Kind: kind, Namespace: ns, Name: name}, Actor: "user:alice", Schema: events.SchemaVersion}
}

func withPayload(ev *events.Event, payload string) *events.Event {
	ev.Payload = json.RawMessage(payload)
	return ev
}

// inInbox moves ev to its object's facet in node n1's inbox.
func inInbox(ev *events.Event) *events.Event {
	ev.Object.Node = "n1"
	return ev
}

func TestFold(t *testing.T) {
	s := projections.NewMemState()
	for _, ev := range []*events.Event{
		nsFoldEvent("Namespace", "", "shop", object.Created, 1),
		nsFoldEvent("ConfigMap", "shop", "a", object.Created, 2),
		nsFoldEvent("Deployment", "shop", "web", object.Created, 3),
		nsFoldEvent("ConfigMap", "shop", "a", object.Updated, 4),
		nsFoldEvent("Node", "", "node-1", object.Created, 5), // cluster-scoped: not a member
		nsFoldEvent("ConfigMap", "other", "x", object.Created, 6),
		nsFoldEvent("Namespace", "", "shop", object.Deleting, 7),
		nsFoldEvent("Deployment", "shop", "web", object.Deleted, 8),
		nsFoldEvent("Namespace", "", "shop", object.Deleting, 9), // a second deletion keeps the first cause
		withPayload(nsFoldEvent("Pod", "shop", "p", object.Created, 10), `{"object":{"metadata":{"uid":"up"},"spec":{"terminationGracePeriodSeconds":5}}}`),
		inInbox(nsFoldEvent("Pod", "shop", "p", object.Assigned, 11)), // the pod's facet: not its version,
		inInbox(nsFoldEvent("Pod", "shop", "p", object.Status, 12)),   // nor the contents' newest event
	} {
		if err := Fold(s, ev); err != nil {
			t.Fatalf("seq %d: %v", ev.Seq, err)
		}
	}
	got := map[string]string{}
	for _, kv := range s.Dump() {
		got[kv[0]] = kv[1]
	}
	var st nsState
	if err := json.Unmarshal([]byte(got["n\x00shop"]), &st); err != nil {
		t.Fatalf("namespace state %q: %v", got["n\x00shop"], err)
	}
	if !st.Terminating || st.Version != 9 || st.Deleting.ID != "id-7" || st.Deleting.Payload != nil {
		t.Errorf("namespace state = %+v, want terminating at 9 caused by id-7", st)
	}
	delete(got, "n\x00shop")
	want := map[string]string{"o\x00shop\x00ConfigMap\x00a": "4", "o\x00other\x00ConfigMap\x00x": "6",
		"o\x00shop\x00Pod\x00p": "10", "l\x00shop": "10", "l\x00other": "6", // l: the newest event of the namespace's contents
		"d\x00shop\x00p": `{"uid":"up","grace":5}`} // d: what a pod's graceful deletion needs
	if !reflect.DeepEqual(got, want) {
		t.Errorf("members = %q, want %q", got, want)
	}
	for _, step := range []struct {
		ev   *events.Event
		want string
	}{
		{withPayload(nsFoldEvent("Pod", "shop", "p", object.Updated, 20), `{"object":{"metadata":{},"spec":{"terminationGracePeriodSeconds":9}}}`), `{"uid":"up","grace":9}`},
		{nsFoldEvent("Pod", "shop", "p", object.Bound, 21), `{"uid":"up","grace":9}`},
		{withPayload(nsFoldEvent("Pod", "shop", "p", object.Deleting, 22), `{"uid":"up"}`), `{"uid":"up","grace":9,"deleting":true}`},
		{nsFoldEvent("Pod", "shop", "p", object.Deleted, 23), ""},
	} {
		if err := Fold(s, step.ev); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := s.Get([]byte("d\x00shop\x00p")); string(v) != step.want {
			t.Errorf("after %s: pod member %s, want %s", step.ev.Type, v, step.want)
		}
	}
	if err := Fold(s, nsFoldEvent("Namespace", "", "shop", object.Deleted, 13)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get([]byte("n\x00shop")); ok {
		t.Error("a deleted namespace keeps its state")
	}
	bad := nsFoldEvent("ConfigMap", "shop", "a", object.Updated, 14)
	bad.Object.Kind = "Widget"
	if err := Fold(s, bad); !errors.Is(err, object.ErrFold) {
		t.Errorf("unknown kind = %v, want ErrFold", err)
	}
}
