package dispatch

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// podEvent is an event of verb about pod web in shop at seq, on its own subject
// (node "") or on its facet in node's inbox.
func podEvent(verb, node string, seq uint64, payload any) *events.Event {
	raw, _ := json.Marshal(payload)
	if payload == nil {
		raw = nil
	}
	return &events.Event{ID: "id-" + strconv.FormatUint(seq, 10), Type: "pod." + verb, Seq: seq,
		Object: events.Ref{Kind: "Pod", Namespace: "shop", Name: "web", Node: node},
		Time:   t0.Add(time.Duration(seq) * time.Second), Actor: "test", Schema: events.SchemaVersion, Payload: raw}
}

func created(uid string, seq uint64) *events.Event {
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: types.UID(uid)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "wake.local/hostname-web:1"}}}}
	object.Default(p)
	raw, _ := json.Marshal(p)
	return podEvent(object.Created, "", seq, &object.Change{Object: raw})
}

func bound(node string, seq uint64) *events.Event {
	return podEvent(object.Bound, "", seq, &object.Binding{Node: node})
}

func deleting(uid string, seq uint64) *events.Event {
	zero := int64(0)
	return podEvent(object.Deleting, "", seq, &object.Deletion{UID: uid, GracePeriodSeconds: &zero})
}

func deleted(uid string, seq uint64) *events.Event {
	return podEvent(object.Deleted, "", seq, &object.Deletion{UID: uid})
}

// assigned is the dispatcher's copy, into node's inbox, of pod uid at version.
func assigned(node, uid string, version, seq uint64) *events.Event {
	raw, _ := json.Marshal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: types.UID(uid)}})
	return podEvent(object.Assigned, node, seq, &object.Assignment{Pod: raw, Version: version})
}

func status(node string, seq uint64) *events.Event {
	return podEvent(object.Status, node, seq, &object.StatusChange{Status: json.RawMessage(`{"phase":"Running"}`)})
}

// stopped is node's report that it stopped pod uid ("": an agent that does not
// name the pod).
func stopped(node, uid string, seq uint64) *events.Event {
	if uid == "" {
		return podEvent(object.Stopped, node, seq, nil)
	}
	return podEvent(object.Stopped, node, seq, &object.Deletion{UID: uid})
}

// revoked is the dispatcher's revocation, in node's inbox, of pod uid.
func revoked(node, uid string, seq uint64) *events.Event {
	return podEvent(object.Revoked, node, seq, &object.Deletion{UID: uid})
}

// decision is what Decide appends after a step: nothing (typ "") or one event.
type decision struct {
	typ, node string
	expected  uint64
}

// TestFoldDecide folds the events of pods that share a name one by one and checks
// what the dispatcher decides after each: forwarding a pod into a node's inbox is
// always guarded by the newest event of that inbox slot, whatever pod of the name
// wrote it.
func TestFoldDecide(t *testing.T) {
	cases := []struct {
		name  string
		steps []struct {
			ev   *events.Event
			want decision
		}
	}{
		{name: "a pod deleted and created again on the same node", steps: []struct {
			ev   *events.Event
			want decision
		}{
			{created("u1", 1), decision{}},
			{bound("n1", 2), decision{"pod.assigned", "n1", 0}},
			{assigned("n1", "u1", 2, 3), decision{}},
			{status("n1", 4), decision{}},
			{deleting("u1", 5), decision{"pod.assigned", "n1", 4}},
			{assigned("n1", "u1", 5, 6), decision{}},
			{stopped("n1", "u1", 7), decision{"pod.deleted", "", 5}},
			{deleted("u1", 8), decision{}},
			// The same name again: the slot in n1's inbox holds the first pod's
			// events, and the new pod is forwarded guarded by the newest.
			{created("u2", 9), decision{}},
			{bound("n1", 10), decision{"pod.assigned", "n1", 7}},
			{assigned("n1", "u2", 10, 11), decision{}},
			{status("n1", 12), decision{}},
			{deleting("u2", 13), decision{"pod.assigned", "n1", 12}},
			{assigned("n1", "u2", 13, 14), decision{}},
			{stopped("n1", "u2", 15), decision{"pod.deleted", "", 13}},
			{deleted("u2", 16), decision{}},
			// And a third time, after an agent that does not name the pod it stopped.
			{created("u3", 17), decision{}},
			{bound("n1", 18), decision{"pod.assigned", "n1", 15}},
			{assigned("n1", "u3", 18, 19), decision{}},
			{deleting("u3", 20), decision{"pod.assigned", "n1", 19}},
			{assigned("n1", "u3", 20, 21), decision{}},
			{stopped("n1", "", 22), decision{"pod.deleted", "", 20}},
		}},
		{name: "a pod deleted outright is revoked on its node before its successor of the name is forwarded", steps: []struct {
			ev   *events.Event
			want decision
		}{
			{created("u1", 1), decision{}},
			{bound("n1", 2), decision{"pod.assigned", "n1", 0}},
			{assigned("n1", "u1", 2, 3), decision{}},
			{status("n1", 4), decision{}},
			{deleted("u1", 5), decision{"pod.revoked", "n1", 4}}, // forced: the node was not asked to stop it
			{created("u2", 6), decision{"pod.revoked", "n1", 4}},
			{bound("n1", 7), decision{"pod.revoked", "n1", 4}}, // not forwarded into the slot the revocation takes
			{revoked("n1", "u1", 8), decision{"pod.assigned", "n1", 8}},
			{assigned("n1", "u2", 7, 9), decision{}},
			{stopped("n1", "u1", 10), decision{}}, // the first pod's report: not the second's
			{deleting("u2", 11), decision{"pod.assigned", "n1", 10}},
		}},
		{name: "an earlier pod's late reports change only its slot's version", steps: []struct {
			ev   *events.Event
			want decision
		}{
			{created("u1", 1), decision{}},
			{bound("n1", 2), decision{"pod.assigned", "n1", 0}},
			{assigned("n1", "u1", 2, 3), decision{}},
			{deleted("u1", 4), decision{"pod.revoked", "n1", 3}}, // forced
			{created("u2", 5), decision{"pod.revoked", "n1", 3}},
			{bound("n1", 6), decision{"pod.revoked", "n1", 3}},
			// The node stopped it on its own: no revocation is needed any more.
			{stopped("n1", "u1", 7), decision{"pod.assigned", "n1", 7}},
			{assigned("n1", "u2", 6, 8), decision{}},
			{deleting("u2", 9), decision{"pod.assigned", "n1", 8}},
			{stopped("n1", "u1", 10), decision{"pod.assigned", "n1", 10}},
			{assigned("n1", "u2", 9, 11), decision{}},
			{stopped("n1", "u2", 12), decision{"pod.deleted", "", 9}},
		}},
		{name: "a pod deleted before it reached its node, or after the node stopped it, is not revoked", steps: []struct {
			ev   *events.Event
			want decision
		}{
			{created("u1", 1), decision{}},
			{bound("n1", 2), decision{"pod.assigned", "n1", 0}},
			{deleted("u1", 3), decision{}},
			{created("u2", 4), decision{}},
			{bound("n1", 5), decision{"pod.assigned", "n1", 0}},
			{assigned("n1", "u2", 5, 6), decision{}},
			{deleting("u2", 7), decision{"pod.assigned", "n1", 6}},
			{assigned("n1", "u2", 7, 8), decision{}},
			{stopped("n1", "u2", 9), decision{"pod.deleted", "", 7}},
			{deleted("u2", 10), decision{}},
		}},
		{name: "a pod created again on another node", steps: []struct {
			ev   *events.Event
			want decision
		}{
			{created("u1", 1), decision{}},
			{bound("n1", 2), decision{"pod.assigned", "n1", 0}},
			{assigned("n1", "u1", 2, 3), decision{}},
			{deleting("u1", 4), decision{"pod.assigned", "n1", 3}},
			{assigned("n1", "u1", 4, 5), decision{}},
			{stopped("n1", "u1", 6), decision{"pod.deleted", "", 4}},
			{deleted("u1", 7), decision{}},
			{created("u2", 8), decision{}},
			{bound("n2", 9), decision{"pod.assigned", "n2", 0}},
			{status("n1", 10), decision{"pod.assigned", "n2", 0}}, // n1's slot is not n2's
			{assigned("n2", "u2", 9, 11), decision{}},
			{deleting("u2", 12), decision{"pod.assigned", "n2", 11}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := projections.NewMemState()
			for _, st := range tc.steps {
				object.Prepare(st.ev)
				if err := Fold(s, st.ev); err != nil {
					t.Fatalf("fold %s %s: %v", st.ev.Type, st.ev.Object, err)
				}
				var got decision
				as, err := readAndDecide(s, "shop", "web")
				if err != nil {
					t.Fatal(err)
				}
				if len(as) > 1 {
					t.Fatalf("after %s at %d: %d actions, want at most one", st.ev.Type, st.ev.Seq, len(as))
				}
				if len(as) == 1 {
					got = decision{as[0].Event.Type, as[0].Event.Object.Node, as[0].Expected}
				}
				if got != st.want {
					t.Errorf("after %s %s at %d: decided %+v, want %+v", st.ev.Type, st.ev.Object, st.ev.Seq, got, st.want)
				}
			}
		})
	}
}

// A revocation tells the node which pod to stop and within which grace period:
// the deletion's, else the pod's own; the node stopping that pod ends it.
func TestRevocationCarriesTheGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name  string
		evs   []*events.Event
		grace int64
	}{
		{"deleted outright while running: the pod's grace period", []*events.Event{created("u1", 1), bound("n1", 2), assigned("n1", "u1", 2, 3), deleted("u1", 4)}, 30},
		{"deleted outright while being stopped: the deletion's", []*events.Event{created("u1", 1), bound("n1", 2), assigned("n1", "u1", 2, 3), deleting("u1", 4), deleted("u1", 5)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := projections.NewMemState()
			for _, ev := range tc.evs {
				object.Prepare(ev)
				if err := Fold(s, ev); err != nil {
					t.Fatal(err)
				}
			}
			as, err := readAndDecide(s, "shop", "web")
			if err != nil || len(as) != 1 {
				t.Fatalf("decided %v, %v; want one revocation", as, err)
			}
			var d object.Deletion
			if err := json.Unmarshal(as[0].Event.Payload, &d); err != nil {
				t.Fatal(err)
			}
			if d.UID != "u1" || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != tc.grace {
				t.Errorf("revocation %s, want uid u1 and grace %d", as[0].Event.Payload, tc.grace)
			}
			if as[0].Event.Cause != tc.evs[len(tc.evs)-1].ID {
				t.Errorf("revocation caused by %s, want the deletion %s", as[0].Event.Cause, tc.evs[len(tc.evs)-1].ID)
			}
		})
	}
}
