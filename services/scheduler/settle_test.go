package scheduler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
)

// schedulerOnLog is a Service on a real log with no projection: the tests set
// its in-memory cluster by hand and run its pipeline, to reach the paths that
// need the log to answer in a particular way.
func schedulerOnLog(t *testing.T) (*Service, *events.Log) {
	t.Helper()
	srv := eventstest.Start(t)
	log, err := events.NewLog(srv.Connect(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Ensure(context.Background(), events.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	return NewService(log, slog.New(slog.NewTextHandler(io.Discard, nil))), log
}

// track adds pod, stored at version, to s's cluster as pending.
func track(t *testing.T, s *Service, pod *corev1.Pod, version uint64) *podState {
	t.Helper()
	info, err := NewPodInfo(pod)
	if err != nil {
		t.Fatal(err)
	}
	key := pod.Namespace + "/" + pod.Name
	ps := &podState{info: info, version: version, cause: "create-" + pod.Name}
	s.pods[key], s.pending[key] = ps, true
	return ps
}

func appendPod(t *testing.T, log *events.Log, pod *corev1.Pod, expected uint64) uint64 {
	t.Helper()
	ref := events.Ref{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name}
	k, _ := object.ByKind("Pod")
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	typ := object.Updated
	if expected == 0 {
		typ = object.Created
	}
	ev, err := events.New(object.EventType(k, typ), ref, "user:test", object.Change{Object: raw})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := log.Append(context.Background(), ev, expected)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// A report refused by its guard (the pod changed since the scheduler read it)
// must leave the pod pending, with the message the log holds, not parked with
// a message the log never stored: a parked pod is decided again only when the
// cluster changes.
func TestRefusedReportIsDecidedAgain(t *testing.T) {
	s, log := schedulerOnLog(t)
	pod := makePod("p", requests("cpu", "1"))
	v1 := appendPod(t, log, pod, 0)
	track(t, s, pod, v1)
	appendPod(t, log, pod, v1) // someone else's change: the scheduler's read is stale

	if err := s.placePending(context.Background()); err != nil {
		t.Fatalf("a refused append is not an error of the round: %v", err)
	}
	key := "default/p"
	if !s.pending[key] || s.parked[key] {
		t.Errorf("after a refused report: pending %v, parked %v; want pending and not parked", s.pending[key], s.parked[key])
	}
	if m := s.pods[key].message; m != "" {
		t.Errorf("message %q kept in memory though the log refused it", m)
	}
	for _, ev := range eventstest.ReadAll(t, log, ">") {
		if ev.Type == object.EventType(mustKind("Pod"), object.Unschedulable) {
			t.Errorf("the refused report was stored: %s", ev.Reason)
		}
	}
}

// A binding refused by its guard is undone: the node no longer counts the pod.
func TestRefusedBindingIsUndone(t *testing.T) {
	s, log := schedulerOnLog(t)
	s.nodes["n1"] = NewNodeInfo(makeNode("n1", "4", "8Gi"))
	pod := makePod("p", requests("cpu", "1"))
	v1 := appendPod(t, log, pod, 0)
	track(t, s, pod, v1)
	appendPod(t, log, pod, v1)

	if err := s.placePending(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.nodes["n1"].NumPods(); n != 0 {
		t.Errorf("node n1 counts %d pods after a refused binding, want 0", n)
	}
	if ps := s.pods["default/p"]; ps.node != "" || !s.pending["default/p"] {
		t.Errorf("pod assumed on %q, pending %v; want unassigned and pending", ps.node, s.pending["default/p"])
	}
}

// Two different decisions from the same version of a pod are two events: the
// second must not be taken for a retry of the first and dropped by the log's
// duplicate window. The scheduler reads nodes as well as the pod, so the same
// pod version can be decided twice with different answers (a node arrived
// between them); before ids named the decision, the second report was
// acknowledged as a duplicate, the pod stayed parked with it in memory, and
// only the periodic retry corrected the stored reason.
func TestNewDecisionFromTheSameVersionIsStored(t *testing.T) {
	s, log := schedulerOnLog(t)
	pod := makePod("p", requests("cpu", "1"))
	v1 := appendPod(t, log, pod, 0)
	ps := track(t, s, pod, v1)

	if err := s.placePending(context.Background()); err != nil { // no nodes: 0/0
		t.Fatal(err)
	}
	// The report is stored at v1+1, but the scheduler has not yet folded it; a
	// node arrives (not ready), which unparks the pod.
	notReady := makeNode("n1", "4", "8Gi")
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	s.nodes["n1"] = NewNodeInfo(notReady)
	s.unpark()
	if err := s.placePending(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Its report is refused by the guard (the stored report moved the pod
	// past v1), not swallowed as a duplicate: the pod is pending again.
	if !s.pending["default/p"] {
		t.Fatalf("the second decision, %q, was taken as stored: the pod is not pending (parked %v)", ps.message, s.parked["default/p"])
	}
	// Once the scheduler has read its own report, it decides again and stores
	// the new reason.
	ps.version, ps.message = v1+1, "0/0 nodes are available: no nodes registered."
	if err := s.placePending(context.Background()); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, ev := range eventstest.ReadAll(t, log, ">") {
		if ev.Type == object.EventType(mustKind("Pod"), object.Unschedulable) {
			reasons = append(reasons, ev.Reason)
		}
	}
	if len(reasons) != 2 || reasons[1] == reasons[0] {
		t.Errorf("stored reports %q, want the 0/0 report then the not-ready one", reasons)
	}

	// The same decision retried from the same version is one event.
	a, _, err := s.decide(&podState{info: ps.info, version: 7, cause: "c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := s.decide(&podState{info: ps.info, version: 7, cause: "c"}, nil)
	if a.ID != b.ID {
		t.Errorf("a retried decision got a new id: %s, %s", a.ID, b.ID)
	}
}

func mustKind(kind string) *object.Kind {
	k, ok := object.ByKind(kind)
	if !ok {
		panic(kind)
	}
	return k
}
