package nodelifecycle

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
)

// A node registered long after the heartbeat watch started gets its full grace
// period from when a round first saw it, not from the watch's start: its first
// heartbeat may follow its registration.
func TestLateNodeGetsItsGracePeriod(t *testing.T) {
	s := projections.NewMemState()
	n := node(corev1.ConditionTrue)
	n.UID = "uid-n1"
	raw, _ := json.Marshal(n)
	k, _ := object.ByKind("Node")
	ev, err := events.New(object.EventType(k, object.Created), events.Ref{Kind: "Node", Name: "n1"}, "user:test", object.Change{Object: raw})
	if err != nil {
		t.Fatal(err)
	}
	ev.Seq = 1
	object.Prepare(ev)
	if err := Fold(s, ev); err != nil {
		t.Fatal(err)
	}
	// Its agent reports it Ready (a create keeps no status).
	st, _ := json.Marshal(n.Status)
	ev, err = events.New(object.EventType(k, object.Status), events.Ref{Kind: "Node", Name: "n1"}, "system:node:n1", object.StatusChange{Status: st})
	if err != nil {
		t.Fatal(err)
	}
	ev.Seq = 2
	object.Prepare(ev)
	if err := Fold(s, ev); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	c := &Controller{grace: 2 * time.Second, start: start, seen: map[string]time.Time{}, noticed: map[string]time.Time{}}

	first := start.Add(10 * time.Second) // the node appears 10 s after the watch started
	if plan, err := c.decideRound(s, []string{"n1"}, first); err != nil || len(plan) != 0 {
		t.Fatalf("a node first seen now was judged at once: %v, %v", plan, err)
	}
	if plan, _ := c.decideRound(s, []string{"n1"}, first.Add(time.Second)); len(plan) != 0 {
		t.Fatalf("judged within its grace period: %v", plan)
	}
	if plan, _ := c.decideRound(s, []string{"n1"}, first.Add(3*time.Second)); len(plan) == 0 {
		t.Fatal("a node silent for longer than its grace period since it was first seen was not judged")
	}
}
