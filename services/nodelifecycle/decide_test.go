package nodelifecycle

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	grace := 20 * time.Second
	deleting := now.Add(-10 * time.Second)
	longAgo := now.Add(-60 * time.Second)
	pods := []Pod{
		{Namespace: "d", Name: "live", UID: "u1", Version: 5, Grace: 30},
		{Namespace: "d", Name: "going", UID: "u2", Version: 6, Grace: 30, Deleting: &deleting},
		{Namespace: "d", Name: "gone", UID: "u3", Version: 7, Grace: 30, Deleting: &longAgo},
	}
	type want struct {
		typ, name string
		expected  uint64
	}
	cases := []struct {
		name string
		n    Node
		want []want
	}{
		{"heartbeats within grace: nothing", Node{Node: node(corev1.ConditionTrue), Version: 3, LastHeartbeat: now.Add(-5 * time.Second), Pods: pods}, nil},
		{"lost and ready: mark unknown, evict live pods, delete pods past their grace", Node{Node: node(corev1.ConditionTrue), Version: 3, LastHeartbeat: now.Add(-25 * time.Second), Pods: pods},
			[]want{{"node.status", "n1", 3}, {"pod.deleting", "live", 5}, {"pod.deleted", "gone", 7}}},
		{"already unknown: no second status", Node{Node: node(corev1.ConditionUnknown), Version: 4, LastHeartbeat: now.Add(-25 * time.Second), Pods: pods[:1]},
			[]want{{"pod.deleting", "live", 5}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			as, err := Decide(tc.n, now, grace)
			if err != nil {
				t.Fatal(err)
			}
			if len(as) != len(tc.want) {
				t.Fatalf("%d actions, want %d: %+v", len(as), len(tc.want), as)
			}
			for i, w := range tc.want {
				ev := as[i].Event
				if ev.Type != w.typ || ev.Object.Name != w.name || as[i].Expected != w.expected || ev.Actor != Actor {
					t.Errorf("action %d: %s %s expected %d by %s, want %+v", i, ev.Type, ev.Object.Name, as[i].Expected, ev.Actor, w)
				}
				if w.typ == "node.status" {
					var sc object.StatusChange
					var st corev1.NodeStatus
					_ = json.Unmarshal(ev.Payload, &sc)
					_ = json.Unmarshal(sc.Status, &st)
					if st.Conditions[0].Status != corev1.ConditionUnknown || st.Conditions[0].Reason != "NodeStatusUnknown" {
						t.Errorf("node status %+v", st.Conditions)
					}
				}
			}
			again, _ := Decide(tc.n, now, grace)
			for i := range as {
				if as[i].Event.ID != again[i].Event.ID {
					t.Error("ids are not deterministic")
				}
			}
		})
	}
}
