package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestNodeInfoAccounting(t *testing.T) {
	n := NewNodeInfo(makeNode("n1", "4", "8Gi", allocatable("nvidia.com/gpu", "4")))
	// a's second container (the one with the port) requests nothing: it counts
	// as 100m and 200Mi for scoring.
	a := mustPodInfo(t, makePod("a", ownedBy("rs1"), requests("cpu", "1", "memory", "1Gi", "nvidia.com/gpu", "1"),
		hostPorts(port(8080, "", ""))))
	b := mustPodInfo(t, makePod("b", ownedBy("rs1"), requests("cpu", "500m")))
	c := mustPodInfo(t, makePod("c", ownedBy("rs2"), withContainer(nil, nil)))

	type state struct {
		pods      int
		requested Resources
		nonZero   [2]int64
		owners    map[string]int32
		port8080  bool
	}
	observe := func() state {
		owners := map[string]int32{}
		for uid, c := range n.owners {
			owners[string(uid)] = c
		}
		return state{
			pods:      n.NumPods(),
			requested: n.Requested(),
			nonZero:   [2]int64{n.nonZeroMilliCPU, n.nonZeroMemory},
			owners:    owners,
			port8080:  n.ports.conflicts(hostPort{ip: wildcardIP, protocolPort: protocolPort{"TCP", 8080}}),
		}
	}
	const gi = 1 << 30
	steps := []struct {
		name string
		do   func()
		want state
	}{
		{"empty", func() {}, state{owners: map[string]int32{}}},
		{"add a", func() { n.AddPod(a) }, state{
			pods: 1, requested: Resources{MilliCPU: 1000, Memory: gi, Scalar: []ScalarResource{{"nvidia.com/gpu", 1}}},
			nonZero: [2]int64{1100, gi + 200<<20}, owners: map[string]int32{"rs1": 1}, port8080: true,
		}},
		{"add b and c", func() { n.AddPod(b); n.AddPod(c) }, state{
			pods: 3, requested: Resources{MilliCPU: 1500, Memory: gi, Scalar: []ScalarResource{{"nvidia.com/gpu", 1}}},
			nonZero: [2]int64{1700, gi + 3*200<<20}, owners: map[string]int32{"rs1": 2, "rs2": 1}, port8080: true,
		}},
		{"re-adding a is idempotent", func() { n.AddPod(a) }, state{
			pods: 3, requested: Resources{MilliCPU: 1500, Memory: gi, Scalar: []ScalarResource{{"nvidia.com/gpu", 1}}},
			nonZero: [2]int64{1700, gi + 3*200<<20}, owners: map[string]int32{"rs1": 2, "rs2": 1}, port8080: true,
		}},
		{"remove a", func() { n.RemovePod("a") }, state{
			pods: 2, requested: Resources{MilliCPU: 500}, nonZero: [2]int64{600, 2 * 200 << 20},
			owners: map[string]int32{"rs1": 1, "rs2": 1},
		}},
		{"removing an absent pod changes nothing", func() { n.RemovePod("a") }, state{
			pods: 2, requested: Resources{MilliCPU: 500}, nonZero: [2]int64{600, 2 * 200 << 20},
			owners: map[string]int32{"rs1": 1, "rs2": 1},
		}},
		{"SetNode keeps the pods", func() { n.SetNode(makeNode("n1", "8", "16Gi")) }, state{
			pods: 2, requested: Resources{MilliCPU: 500}, nonZero: [2]int64{600, 2 * 200 << 20},
			owners: map[string]int32{"rs1": 1, "rs2": 1},
		}},
		{"remove all", func() { n.RemovePod("b"); n.RemovePod("c") }, state{requested: Resources{Scalar: []ScalarResource{}}, owners: map[string]int32{}}},
	}
	for _, s := range steps {
		s.do()
		got := observe()
		if len(got.requested.Scalar) == 0 && len(s.want.requested.Scalar) == 0 {
			got.requested.Scalar, s.want.requested.Scalar = nil, nil
		}
		if !reflect.DeepEqual(got, s.want) {
			t.Errorf("%s: got %+v, want %+v", s.name, got, s.want)
		}
	}
	if got := n.Allocatable().MilliCPU; got != 8000 {
		t.Errorf("allocatable cpu after SetNode = %d, want 8000", got)
	}
}

func TestNodeInfoAllocatableFallsBackToCapacity(t *testing.T) {
	node := makeNode("n1", "4", "8Gi")
	node.Status.Capacity = rl("cpu", "8", "ephemeral-storage", "100Gi", "pods", "110")
	delete(node.Status.Allocatable, corev1.ResourcePods)
	n := NewNodeInfo(node)
	got := n.Allocatable()
	if got.MilliCPU != 4000 || got.EphemeralStorage != 100<<30 || n.allowedPods != 110 {
		t.Errorf("allocatable = %+v pods %d, want cpu 4000 (allocatable wins), ephemeral 100Gi and 110 pods from capacity", got, n.allowedPods)
	}
}

func TestHostPortSetIsAMultiset(t *testing.T) {
	var s hostPortSet
	p := hostPort{ip: "10.0.0.1", protocolPort: protocolPort{"TCP", 80}}
	s.add(p, 1)
	s.add(p, 1)
	s.add(p, -1)
	if !s.conflicts(p) {
		t.Fatal("port released while a second user still holds it")
	}
	s.add(p, -1)
	if s.conflicts(p) || len(s.exact) != 0 || len(s.any) != 0 {
		t.Fatalf("port still held after both users left: %+v", s)
	}
}
