package podgc

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	bound := Pod{Namespace: "d", Name: "web", UID: "u1", Version: 7, Node: "foo-node", Bound: t0, EventID: "ev-7", Correlation: "corr-1"}
	deleting := bound
	deleting.Deleting, deleting.Version, deleting.EventID = true, 9, "ev-9"
	unbound := deleting
	unbound.Node = ""
	ready := Node{Name: "foo-node", Registered: true, Ready: true}
	notReady := Node{Name: "foo-node", Registered: true}
	outOfService := Node{Name: "foo-node", Registered: true, OutOfService: true}
	never := Node{Name: "foo-node"}
	deleted := Node{Name: "foo-node", Gone: t0.Add(time.Minute), GoneEventID: "node-del", GoneCorr: "corr-node"}
	q := 40 * time.Second

	type want struct {
		typ         string
		expected    uint64
		cause, corr string
		reasonHas   string
	}
	cases := []struct {
		name string
		pod  Pod
		node Node
		now  time.Time
		want *want
	}{
		{"not bound: the dispatcher's", unbound, never, t0.Add(time.Hour), nil},
		{"bound to a ready node: nothing", bound, ready, t0.Add(time.Hour), nil},
		{"deleting on a ready node: the node stops it", deleting, ready, t0.Add(time.Hour), nil},
		{"deleting on a NotReady node in service: the node lifecycle's", deleting, notReady, t0.Add(time.Hour), nil},
		{"deleting on a node that never registered: deleted now", deleting, never, t0,
			&want{"pod.deleted", 9, "ev-9", "corr-1", "node foo-node does not exist (it never registered)"}},
		{"deleting on a deleted node: deleted now", deleting, deleted, t0,
			&want{"pod.deleted", 9, "ev-9", "corr-1", "node foo-node does not exist (it was deleted)"}},
		{"deleting on a NotReady node out of service: deleted now", deleting, outOfService, t0,
			&want{"pod.deleted", 9, "ev-9", "corr-1", "out of service (taint node.kubernetes.io/out-of-service)"}},
		{"bound to a node out of service, not deleting: nothing", bound, outOfService, t0.Add(time.Hour), nil},
		{"bound to a missing node, inside the quarantine: wait", bound, never, t0.Add(39 * time.Second), nil},
		{"bound to a missing node past the quarantine: deleted", bound, never, t0.Add(40 * time.Second),
			&want{"pod.deleted", 7, "ev-7", "corr-1", "bound to a node that does not exist: node foo-node does not exist (it never registered) for more than 40s"}},
		{"node deleted after the binding: the quarantine counts from the deletion", bound, deleted, t0.Add(90 * time.Second), nil},
		{"node deleted, past the quarantine: deleted, caused by the node's deletion", bound, deleted, t0.Add(100 * time.Second),
			&want{"pod.deleted", 7, "node-del", "corr-node", "it was deleted"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := Decide(tc.pod, tc.node, tc.now, q)
			if tc.want == nil {
				if a != nil {
					t.Fatalf("Decide = %s (%s), want nothing", a.Event.Type, a.Event.Reason)
				}
				return
			}
			if a == nil {
				t.Fatalf("Decide = nothing, want %s", tc.want.typ)
			}
			ev := a.Event
			if ev.Type != tc.want.typ || a.Expected != tc.want.expected || ev.Cause != tc.want.cause || ev.Correlation != tc.want.corr {
				t.Errorf("got %s expected %d cause %q corr %q, want %+v", ev.Type, a.Expected, ev.Cause, ev.Correlation, *tc.want)
			}
			if ev.Actor != Actor || ev.Object.Kind != "Pod" || ev.Object.Namespace != "d" || ev.Object.Name != "web" || ev.Object.Node != "" {
				t.Errorf("actor %q object %s", ev.Actor, ev.Object)
			}
			if !strings.Contains(ev.Reason, tc.want.reasonHas) || !strings.HasPrefix(ev.Reason, "pod garbage collection: ") {
				t.Errorf("reason %q, want it to say %q", ev.Reason, tc.want.reasonHas)
			}
			var d object.Deletion
			if err := json.Unmarshal(ev.Payload, &d); err != nil || d.UID != "u1" {
				t.Errorf("payload %s: %v", ev.Payload, err)
			}
			if again := Decide(tc.pod, tc.node, tc.now, q); again.Event.ID != ev.ID {
				t.Error("ids are not deterministic")
			}
		})
	}
}

func TestDecideTerminated(t *testing.T) {
	pods := []Pod{
		{Namespace: "d", Name: "a", UID: "ua", Version: 3, Node: "n1", Phase: corev1.PodSucceeded},
		{Namespace: "d", Name: "b", UID: "ub", Version: 4, Node: "n1", Phase: corev1.PodFailed},
		{Namespace: "d", Name: "c", UID: "uc", Version: 5, Node: "n1", Phase: corev1.PodSucceeded},
	}
	cases := []struct {
		name      string
		count     int
		oldest    []Pod
		threshold int
		want      []string
	}{
		{"under the threshold: nothing", 3, pods, 5, nil},
		{"at the threshold: nothing", 3, pods, 3, nil},
		{"one over: the oldest", 3, pods[:1], 2, []string{"a"}},
		{"two over: the two oldest", 5, pods[:2], 3, []string{"a", "b"}},
		{"fewer loaded than the excess: those", 10, pods, 1, []string{"a", "b", "c"}},
		{"threshold 0 or below keeps them all", 3, pods, 0, nil},
		{"negative threshold keeps them all", 3, pods, -1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			as := DecideTerminated(tc.count, tc.oldest, tc.threshold)
			var got []string
			for _, a := range as {
				ev := a.Event
				got = append(got, ev.Object.Name)
				var d object.Deletion
				if err := json.Unmarshal(ev.Payload, &d); err != nil || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != 0 {
					t.Errorf("%s: payload %s, want grace 0", ev.Object.Name, ev.Payload)
				}
				if ev.Type != "pod.deleting" || ev.Actor != Actor || !strings.Contains(ev.Reason, "exceed the threshold of") {
					t.Errorf("%s: %s by %s: %q", ev.Object.Name, ev.Type, ev.Actor, ev.Reason)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("deleted %v, want %v", got, tc.want)
			}
		})
	}
}
