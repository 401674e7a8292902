package dispatch

import (
	"encoding/json"
	"testing"

	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecide(t *testing.T) {
	now := metav1.Now()
	pod := func(node string, deleting bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "d", UID: "u"}, Spec: corev1.PodSpec{NodeName: node}}
		if deleting {
			p.DeletionTimestamp = &now
		}
		return p
	}
	type want struct {
		typ, node string
		expected  uint64
	}
	cases := []struct {
		name string
		in   Pod
		want []want
	}{
		{"unbound: nothing", Pod{Pod: pod("", false), Version: 3}, nil},
		{"bound, never forwarded: assign at facet version 0", Pod{Pod: pod("n1", false), Version: 4}, []want{{"pod.assigned", "n1", 0}}},
		{"bound, never forwarded, slot used by an earlier pod of the name: assign at the slot's version", Pod{Pod: pod("n1", false), Version: 4, Slot: 3}, []want{{"pod.assigned", "n1", 3}}},
		{"bound, forwarded at this version: nothing", Pod{Pod: pod("n1", false), Version: 4, Slot: 9, Facet: &facet{Node: "n1", Assigned: 4}}, nil},
		{"changed since forwarded: forward again, guarded by the slot", Pod{Pod: pod("n1", false), Version: 6, Slot: 9, Facet: &facet{Node: "n1", Assigned: 4}}, []want{{"pod.assigned", "n1", 9}}},
		{"deleting and never bound: delete", Pod{Pod: pod("", true), Version: 7}, []want{{"pod.deleted", "", 7}}},
		{"deleting on a node: forward the deletion", Pod{Pod: pod("n1", true), Version: 8, Slot: 9, Facet: &facet{Node: "n1", Assigned: 4}}, []want{{"pod.assigned", "n1", 9}}},
		{"deleting, node stopped it: delete", Pod{Pod: pod("n1", true), Version: 8, Slot: 12, Facet: &facet{Node: "n1", Assigned: 8, Stopped: true}}, []want{{"pod.deleted", "", 8}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			as, err := Decide(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(as) != len(tc.want) {
				t.Fatalf("%d actions, want %d", len(as), len(tc.want))
			}
			for i, w := range tc.want {
				ev := as[i].Event
				if ev.Type != w.typ || ev.Object.Node != w.node || as[i].Expected != w.expected || ev.Actor != Actor {
					t.Errorf("got %s @%q expected %d by %s, want %+v", ev.Type, ev.Object.Node, as[i].Expected, ev.Actor, w)
				}
				if w.typ == "pod.assigned" {
					var a object.Assignment
					if err := json.Unmarshal(ev.Payload, &a); err != nil || a.Version != tc.in.Version || len(a.Pod) == 0 {
						t.Errorf("assignment %s: %v", ev.Payload, err)
					}
				}
			}
			again, _ := Decide(tc.in)
			for i := range as {
				if as[i].Event.ID != again[i].Event.ID {
					t.Error("ids are not deterministic")
				}
			}
		})
	}
}
