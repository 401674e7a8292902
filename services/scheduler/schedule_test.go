package scheduler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// place schedules pod and binds it to the chosen node, as the service does.
func place(t *testing.T, s *Scheduler, pod *corev1.Pod, nodes []*NodeInfo) Result {
	t.Helper()
	pi := mustPodInfo(t, pod)
	res, err := s.Schedule(pi, nodes)
	if err != nil {
		t.Fatalf("Schedule(%s): %v", pod.Name, err)
	}
	for _, n := range nodes {
		if n.Name() == res.Node {
			n.AddPod(pi)
		}
	}
	return res
}

func podsPerNode(nodes []*NodeInfo) map[string]int {
	out := map[string]int{}
	for _, n := range nodes {
		out[n.Name()] = n.NumPods()
	}
	return out
}

func TestScheduleSpreadsOverEqualNodes(t *testing.T) {
	for _, owner := range []string{"web", ""} {
		t.Run(fmt.Sprintf("owner %q", owner), func(t *testing.T) {
			var nodes []*NodeInfo
			for i := range 3 {
				nodes = append(nodes, NewNodeInfo(makeNode(fmt.Sprintf("n%d", i), "4", "8Gi")))
			}
			s := New()
			for i := range 6 {
				p := makePod(fmt.Sprintf("web-%d", i), requests("cpu", "100m", "memory", "128Mi"))
				if owner != "" {
					ownedBy(owner)(p)
				}
				place(t, s, p, nodes)
			}
			want := map[string]int{"n0": 2, "n1": 2, "n2": 2}
			if got := podsPerNode(nodes); !reflect.DeepEqual(got, want) {
				t.Errorf("pods per node = %v, want %v", got, want)
			}
		})
	}
}

func TestScheduleTieBreakSpreadsPods(t *testing.T) {
	// Identical empty nodes and pods that are never bound: every node ties, so
	// only the hash of the pod's uid and the node's name decides.
	var nodes []*NodeInfo
	for i := range 10 {
		nodes = append(nodes, NewNodeInfo(makeNode(fmt.Sprintf("node-%03d", i), "4", "8Gi")))
	}
	s := New()
	chosen := map[string]int{}
	for i := range 1000 {
		res, err := s.Schedule(mustPodInfo(t, makePod(fmt.Sprintf("pod-%d", i))), nodes)
		if err != nil {
			t.Fatal(err)
		}
		chosen[res.Node]++
	}
	for _, n := range nodes {
		if c := chosen[n.Name()]; c < 60 || c > 140 {
			t.Errorf("node %s chosen %d times out of 1000, want about 100: %v", n.Name(), c, chosen)
		}
	}
}

func TestScheduleIsDeterministic(t *testing.T) {
	build := func() []*NodeInfo {
		return []*NodeInfo{
			nodeWith(t, makeNode("a", "4", "8Gi", labelled("zone", "a")), makePod("x", ownedBy("web"), requests("cpu", "1"))),
			nodeWith(t, makeNode("b", "4", "8Gi", labelled("zone", "b"))),
			nodeWith(t, makeNode("c", "4", "8Gi", labelled("zone", "a"))),
			nodeWith(t, makeNode("d", "4", "8Gi", labelled("zone", "b"), tainted("spot", "", preferNoSchedule))),
			nodeWith(t, makeNode("e", "4", "8Gi", labelled("zone", "c"))),
		}
	}
	pod := makePod("web-1", ownedBy("web"), requests("cpu", "500m", "memory", "1Gi"),
		preferring(10, term(expr("zone", opIn, "a", "b"))))
	first, err := New().Schedule(mustPodInfo(t, pod), build())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		nodes := build()
		rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
		got, err := New().Schedule(mustPodInfo(t, pod), nodes)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d with nodes in another order: %+v, first run %+v", i, got, first)
		}
	}
	// b and c tie (zone a or b, no pod of web, no taint); the hash picks one.
	if first.Node != "b" && first.Node != "c" {
		t.Errorf("chose %s, want b or c: %+v", first.Node, first)
	}
}

func TestScheduleResultExplainsTheChoice(t *testing.T) {
	nodes := []*NodeInfo{
		nodeWith(t, makeNode("busy-ssd", "4", "8Gi", labelled("disk", "ssd")),
			makePod("x", requests("cpu", "2", "memory", "4Gi"))),
		nodeWith(t, makeNode("idle-hdd", "4", "8Gi", labelled("disk", "hdd"))),
	}
	pod := makePod("p", ownedBy("web"), requests("cpu", "1", "memory", "2Gi"),
		preferring(1, term(expr("disk", opIn, "ssd"))))

	res, err := New().Schedule(mustPodInfo(t, pod), nodes)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Node:     "busy-ssd",
		Score:    25*1 + 100*1 + 100*2 + 100*3 + 100*2,
		Feasible: 2,
		Scores: []PluginScore{
			{Plugin: "LeastAllocated", Score: 25, Weight: 1},
			{Plugin: "BalancedAllocation", Score: 100, Weight: 1},
			{Plugin: "NodeAffinity", Score: 100, Weight: 2},
			{Plugin: "TaintToleration", Score: 100, Weight: 3},
			{Plugin: "OwnerSpread", Score: 100, Weight: 2},
		},
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("Schedule = %+v\nwant       %+v", res, want)
	}

	// Without the preference, the idle node wins on allocation.
	s := New(WithScores(WeightedScore{LeastAllocated{}, 1}, WeightedScore{BalancedAllocation{}, 1}))
	res, err = s.Schedule(mustPodInfo(t, pod), nodes)
	if err != nil {
		t.Fatal(err)
	}
	if res.Node != "idle-hdd" {
		t.Errorf("without NodeAffinity scoring chose %s, want idle-hdd", res.Node)
	}
}

func TestScheduleFitError(t *testing.T) {
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pod   *corev1.Pod
		want  string
		per   map[string][]string
	}{
		{
			name: "the issue's example",
			nodes: []*corev1.Node{
				makeNode("n1", "1", "8Gi"),
				makeNode("n2", "1", "8Gi"),
				makeNode("gpu", "16", "64Gi", tainted("dedicated", "gpu", noSchedule)),
			},
			pod:  makePod("p", requests("cpu", "2")),
			want: "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.",
			per: map[string][]string{
				"gpu": {"node(s) had untolerated taint {dedicated: gpu}"},
				"n1":  {"Insufficient cpu"}, "n2": {"Insufficient cpu"},
			},
		},
		{
			name: "mixed failures, several reasons on one node, first failing filter only",
			nodes: []*corev1.Node{
				makeNode("down", "1", "1Gi", readiness(corev1.ConditionFalse)),
				makeNode("cordoned", "1", "1Gi", cordoned),
				makeNode("small", "1", "1Gi", labelled("zone", "a")),
				makeNode("tiny", "500m", "512Mi", labelled("zone", "a"), allocatable("pods", "0")),
				makeNode("elsewhere", "64", "256Gi", labelled("zone", "b")),
				makeNode("gpu", "64", "256Gi", labelled("zone", "a"), tainted("dedicated", "gpu", noSchedule)),
			},
			pod: makePod("p", selecting("zone", "a"), requests("cpu", "2", "memory", "2Gi")),
			want: "0/6 nodes are available: 1 Too many pods, 1 node(s) didn't match Pod's node affinity/selector, " +
				"1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were not ready, 1 node(s) were unschedulable, " +
				"2 Insufficient cpu, 2 Insufficient memory.",
			per: map[string][]string{
				"cordoned":  {ReasonUnschedulable},
				"down":      {ReasonNotReady},
				"elsewhere": {ReasonNodeAffinity},
				"gpu":       {"node(s) had untolerated taint {dedicated: gpu}"},
				"small":     {ReasonInsufficientCPU, ReasonInsufficientMemory},
				"tiny":      {ReasonTooManyPods, ReasonInsufficientCPU, ReasonInsufficientMemory},
			},
		},
		{
			name: "counts sort as strings, as in Kubernetes",
			nodes: func() []*corev1.Node {
				var out []*corev1.Node
				for i := range 10 {
					out = append(out, makeNode(fmt.Sprintf("n%02d", i), "1", "1Gi"))
				}
				return append(out, makeNode("m1", "8", "1Gi"), makeNode("m2", "8", "1Gi"))
			}(),
			pod:  makePod("p", requests("cpu", "4", "memory", "2Gi")),
			want: "0/12 nodes are available: 10 Insufficient cpu, 12 Insufficient memory.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var nodes []*NodeInfo
			for _, n := range tt.nodes {
				nodes = append(nodes, NewNodeInfo(n))
			}
			_, err := New().Schedule(mustPodInfo(t, tt.pod), nodes)
			var fe *FitError
			if !errors.As(err, &fe) {
				t.Fatalf("Schedule error = %v, want a *FitError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("message:\n got %q\nwant %q", err, tt.want)
			}
			if tt.per == nil {
				return
			}
			got := map[string][]string{}
			for _, ns := range fe.Nodes {
				got[ns.Node] = ns.Status.Reasons()
			}
			if !reflect.DeepEqual(got, tt.per) {
				t.Errorf("per node:\n got %v\nwant %v", got, tt.per)
			}
			if !slices.IsSortedFunc(fe.Nodes, func(a, b NodeStatus) int { return strings.Compare(a.Node, b.Node) }) {
				t.Errorf("nodes not sorted by name: %v", fe.Nodes)
			}
		})
	}
}

func TestScheduleNoNodes(t *testing.T) {
	if _, err := New().Schedule(mustPodInfo(t, makePod("p")), nil); !errors.Is(err, ErrNoNodes) {
		t.Errorf("Schedule with no nodes = %v, want ErrNoNodes", err)
	}
}

func TestScheduleAfterRemovePodFreesRoom(t *testing.T) {
	nodes := []*NodeInfo{NewNodeInfo(makeNode("n", "1", "1Gi"))}
	s := New()
	place(t, s, makePod("a", requests("cpu", "1")), nodes)
	if _, err := s.Schedule(mustPodInfo(t, makePod("b", requests("cpu", "1"))), nodes); err == nil {
		t.Fatal("second pod fitted on a full node")
	}
	nodes[0].RemovePod("a")
	place(t, s, makePod("b", requests("cpu", "1")), nodes)
}
