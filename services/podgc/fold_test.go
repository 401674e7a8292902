package podgc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// history builds the events of a table, one second and one sequence apart.
type history struct{ evs []*events.Event }

func (h *history) add(typ string, ref events.Ref, payload any) *history {
	seq := uint64(len(h.evs) + 1)
	raw, _ := json.Marshal(payload)
	h.evs = append(h.evs, &events.Event{ID: fmt.Sprintf("e%d", seq), Type: typ, Object: ref, Seq: seq,
		Time: t0.Add(time.Duration(seq) * time.Second), Actor: "user:alice", Correlation: fmt.Sprintf("e%d", seq),
		Schema: events.SchemaVersion, Payload: raw})
	return h
}

func podRef(name string) events.Ref { return events.Ref{Kind: "Pod", Namespace: "d", Name: name} }

func (h *history) pod(name, node string) *history {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "d", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
	raw, _ := json.Marshal(p)
	return h.add("pod.created", podRef(name), object.Change{Object: raw})
}
func (h *history) bind(name, node string) *history {
	return h.add("pod.bound", podRef(name), object.Binding{Node: node})
}
func (h *history) deleting(name string) *history {
	return h.add("pod.deleting", podRef(name), object.Deletion{UID: "uid-" + name})
}
func (h *history) deleted(name string) *history {
	return h.add("pod.deleted", podRef(name), object.Deletion{UID: "uid-" + name})
}
func (h *history) phase(name, node string, phase corev1.PodPhase) *history {
	ref := podRef(name)
	ref.Node = node
	st, _ := json.Marshal(corev1.PodStatus{Phase: phase})
	return h.add("pod.status", ref, object.StatusChange{Status: st})
}
func (h *history) node(name string, taints ...corev1.Taint) *history {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}, Spec: corev1.NodeSpec{Taints: taints}}
	raw, _ := json.Marshal(n)
	return h.add("node.created", events.Ref{Kind: "Node", Name: name}, object.Change{Object: raw})
}
func (h *history) nodeReady(name string, ready corev1.ConditionStatus) *history {
	st, _ := json.Marshal(corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}})
	return h.add("node.status", events.Ref{Kind: "Node", Name: name}, object.StatusChange{Status: st})
}
func (h *history) nodeDeleted(name string) *history {
	return h.add("node.deleted", events.Ref{Kind: "Node", Name: name}, object.Deletion{UID: "uid-" + name})
}

var outOfService = corev1.Taint{Key: TaintOutOfService, Effect: corev1.TaintEffectNoExecute}

// TestFoldThenDecide folds a table of events and states what a full round
// decides at a moment after the last of them.
func TestFoldThenDecide(t *testing.T) {
	type step struct {
		Type, Name string
		Expected   uint64
	}
	cases := []struct {
		name      string
		h         *history
		after     time.Duration // from the last event's time to the round
		threshold int
		want      []step
	}{
		{"pod on a node that never registered, deleted: finished at once",
			new(history).pod("web", "foo-node").deleting("web"), 0, 0,
			[]step{{"pod.deleted", "web", 2}}},
		{"pod on a registered node, deleted: its node stops it",
			new(history).node("n1").nodeReady("n1", "True").pod("web", "n1").deleting("web"), 0, 0, nil},
		{"pod bound by the scheduler to a node deleted since, deleting: finished at once",
			new(history).node("n1").pod("web", "").bind("web", "n1").nodeDeleted("n1").deleting("web"), 0, 0,
			[]step{{"pod.deleted", "web", 5}}},
		{"a node registered again takes its pods back",
			new(history).node("n1").pod("web", "n1").nodeDeleted("n1").node("n1").deleting("web"), time.Hour, 0, nil},
		{"orphan inside its quarantine: waits",
			new(history).pod("web", "foo-node"), 39 * time.Second, 0, nil},
		{"orphan past its quarantine: deleted",
			new(history).pod("web", "foo-node"), 40 * time.Second, 0, []step{{"pod.deleted", "web", 1}}},
		{"pods of a deleted node, past the quarantine: deleted",
			new(history).node("n1").pod("a", "n1").pod("b", "n1").pod("c", "n2").node("n2").nodeDeleted("n1"), 40 * time.Second, 0,
			[]step{{"pod.deleted", "a", 2}, {"pod.deleted", "b", 3}}},
		{"terminating on a NotReady node out of service: finished at once",
			new(history).node("n1", outOfService).nodeReady("n1", "False").pod("web", "n1").deleting("web"), 0, 0,
			[]step{{"pod.deleted", "web", 4}}},
		{"terminating on a Ready node out of service: its node stops it",
			new(history).node("n1", outOfService).nodeReady("n1", "True").pod("web", "n1").deleting("web"), 0, 0, nil},
		{"terminated pods over the threshold: the oldest are deleted gracefully",
			new(history).node("n1").pod("a", "n1").pod("b", "n1").pod("c", "n1").pod("d", "n1").
				phase("c", "n1", corev1.PodFailed).phase("a", "n1", corev1.PodSucceeded).phase("b", "n1", corev1.PodSucceeded).
				phase("d", "n1", corev1.PodRunning), 0, 1,
			[]step{{"pod.deleting", "a", 2}, {"pod.deleting", "b", 3}}},
		{"a terminated pod already being deleted does not count",
			new(history).node("n1").pod("a", "n1").pod("b", "n1").
				phase("a", "n1", corev1.PodSucceeded).phase("b", "n1", corev1.PodSucceeded).deleting("a"), 0, 1, nil},
		{"a deleted terminated pod leaves the count",
			new(history).node("n1").pod("a", "n1").pod("b", "n1").
				phase("a", "n1", corev1.PodSucceeded).phase("b", "n1", corev1.PodSucceeded).deleted("a"), 0, 1, nil},
		{"a terminated pod that runs again leaves the count",
			new(history).node("n1").pod("a", "n1").pod("b", "n1").
				phase("a", "n1", corev1.PodFailed).phase("b", "n1", corev1.PodSucceeded).phase("a", "n1", corev1.PodRunning), 0, 1, nil},
		{"a pod that is deleted is forgotten",
			new(history).pod("web", "foo-node").deleting("web").deleted("web"), time.Hour, 0, nil},
		{"a later pod of the same name is a new pod",
			new(history).pod("web", "foo-node").deleting("web").deleted("web").pod("web", "foo-node"), 10 * time.Second, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := projections.NewMemState()
			for _, ev := range tc.h.evs {
				if err := Fold(s, ev); err != nil {
					t.Fatalf("fold %s %s: %v", ev.Type, ev.Object, err)
				}
			}
			c := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), WithTerminatedThreshold(tc.threshold))
			if tc.threshold == 0 {
				c.threshold = -1 // the tables about orphans keep terminated pods out of it
			}
			owners := fullRound(t, s)
			now := tc.h.evs[len(tc.h.evs)-1].Time.Add(tc.after)
			plan, err := c.decideRound(s, owners, now)
			if err != nil {
				t.Fatal(err)
			}
			var got []step
			for _, st := range plan {
				ev := st.Action.Event
				got = append(got, step{ev.Type, ev.Object.Name, st.Action.Expected})
				if st.Owner != owner("d", ev.Object.Name) {
					t.Errorf("step for %s has owner %q", ev.Object.Name, st.Owner)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("decided %v, want %v", got, tc.want)
			}
		})
	}
}

// fullRound lists every pod, as the loop's full round does.
func fullRound(t *testing.T, s *projections.MemState) []string {
	var owners []string
	if err := s.Scan([]byte("p\x00"), false, func(k, _ []byte) bool {
		owners = append(owners, string(k[2:]))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return owners
}

func TestFoldTouchesWhatADecisionReads(t *testing.T) {
	s := projections.NewMemState()
	h := new(history).node("n1").nodeReady("n1", "True").pod("a", "n1").pod("b", "n2")
	for _, ev := range h.evs {
		if err := Fold(s, ev); err != nil {
			t.Fatal(err)
		}
	}
	touched := func(after uint64) string {
		owners, err := reconcile.TouchedSince(s, after)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(strings.Join(owners, ","), "\x00", "/")
	}
	if got := touched(0); got != "d/b,d/a" {
		t.Errorf("after the pods' creation, touched %q", got)
	}
	// A node status that changes nothing a decision reads touches nothing.
	h.nodeReady("n1", "True")
	if err := Fold(s, h.evs[len(h.evs)-1]); err != nil {
		t.Fatal(err)
	}
	if got := touched(4); got != "" {
		t.Errorf("an unchanged node status touched %q", got)
	}
	// The node's deletion touches its pods, only them.
	h.nodeDeleted("n1")
	if err := Fold(s, h.evs[len(h.evs)-1]); err != nil {
		t.Fatal(err)
	}
	if got := touched(5); got != "d/a" {
		t.Errorf("the node's deletion touched %q", got)
	}
}

func TestFoldRejectsWhatCannotApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    *history
	}{
		{"deleting a pod that does not exist", new(history).deleting("ghost")},
		{"a pod created twice", new(history).pod("web", "").pod("web", "")},
		{"a pod created without a uid", new(history).add("pod.created", podRef("web"), object.Change{Object: json.RawMessage(`{"metadata":{"name":"web","namespace":"d"}}`)})},
		{"a binding without a node", new(history).pod("web", "").add("pod.bound", podRef("web"), object.Binding{})},
		{"a status of a node that does not exist", new(history).nodeReady("n1", "True")},
		{"a kind it does not fold", new(history).add("configmap.created", events.Ref{Kind: "ConfigMap", Namespace: "d", Name: "c"}, object.Change{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := projections.NewMemState()
			var err error
			for _, ev := range tc.h.evs {
				if err = Fold(s, ev); err != nil {
					break
				}
			}
			if !errors.Is(err, object.ErrFold) {
				t.Errorf("fold = %v, want ErrFold", err)
			}
		})
	}
	// A node's report about a pod that is gone changes nothing.
	s := projections.NewMemState()
	h := new(history).phase("gone", "n1", corev1.PodSucceeded)
	if err := Fold(s, h.evs[0]); err != nil {
		t.Errorf("status of a gone pod: %v", err)
	}
}
