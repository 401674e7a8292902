package scheduler

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The benchmark workload, described as data: hollow nodes in classes and
// ReplicaSets of pods, as in the scheduler benchmark (10,000 pods onto
// 1,000 nodes).

type nodeClass struct {
	name     string
	count    int
	cpu      string
	memory   string
	extra    []string // more allocatable, name/quantity pairs
	labels   []string
	taint    *corev1.Taint
	podLimit string
}

type replicaSet struct {
	name     string
	replicas int
	cpu      string
	memory   string
	extra    []string // more requests
	opts     []podOpt
}

type scenario struct {
	nodes       []nodeClass
	replicaSets []replicaSet
}

var benchScenario = scenario{
	nodes: []nodeClass{
		{name: "small", count: 400, cpu: "4", memory: "16Gi", labels: []string{"disk", "hdd", "cores", "4"}},
		{name: "medium", count: 300, cpu: "8", memory: "32Gi", labels: []string{"disk", "ssd", "cores", "8"}},
		{name: "large", count: 200, cpu: "16", memory: "64Gi", labels: []string{"disk", "ssd", "cores", "16"}},
		{name: "gpu", count: 50, cpu: "32", memory: "128Gi", extra: []string{"nvidia.com/gpu", "4"},
			labels: []string{"cores", "32"}, taint: &corev1.Taint{Key: "dedicated", Value: "gpu", Effect: noSchedule}},
		{name: "spot", count: 50, cpu: "8", memory: "32Gi", labels: []string{"cores", "8"},
			taint: &corev1.Taint{Key: "spot", Effect: preferNoSchedule}},
	},
	replicaSets: []replicaSet{
		{name: "web", replicas: 1000, cpu: "250m", memory: "256Mi"},
		{name: "api", replicas: 1000, cpu: "500m", memory: "512Mi",
			opts: []podOpt{preferring(50, term(expr("disk", opIn, "ssd")))}},
		{name: "worker", replicas: 1000, cpu: "1", memory: "1Gi"},
		{name: "cache", replicas: 1000, cpu: "200m", memory: "2Gi", opts: []podOpt{selecting("zone", "a")}},
		{name: "batch", replicas: 1000, cpu: "100m", memory: "128Mi"},
		{name: "ml", replicas: 200, cpu: "1", memory: "4Gi", extra: []string{"nvidia.com/gpu", "1"},
			opts: []podOpt{tolerating("dedicated", opEqual, "gpu", noSchedule)}},
		{name: "ingress", replicas: 500, cpu: "100m", memory: "128Mi",
			opts: []podOpt{hostPorts(port(443, "", "")), requiring(term(expr("zone", opNotIn, "c")))}},
		{name: "logs", replicas: 1000, cpu: "50m", memory: "64Mi", opts: []podOpt{tolerating("", opExists, "", "")}},
		{name: "db", replicas: 500, cpu: "2", memory: "8Gi", opts: []podOpt{requiring(term(expr("cores", opGt, "7")))}},
		{name: "misc", replicas: 2800, cpu: "100m", memory: "128Mi"},
	},
}

func (sc scenario) buildNodes() []*corev1.Node {
	var out []*corev1.Node
	for _, c := range sc.nodes {
		for range c.count {
			i := len(out)
			opts := []nodeOpt{labelled(append([]string{"zone", string(rune('a' + i%3))}, c.labels...)...)}
			if c.extra != nil {
				opts = append(opts, allocatable(c.extra...))
			}
			if c.taint != nil {
				opts = append(opts, tainted(c.taint.Key, c.taint.Value, c.taint.Effect))
			}
			out = append(out, makeNode(fmt.Sprintf("%s-%04d", c.name, i), c.cpu, c.memory, opts...))
		}
	}
	return out
}

// buildPods interleaves the ReplicaSets' pods, as controllers creating them
// concurrently would.
func (sc scenario) buildPods() []*corev1.Pod {
	var out []*corev1.Pod
	for i := 0; ; i++ {
		added := false
		for _, rs := range sc.replicaSets {
			if i >= rs.replicas {
				continue
			}
			opts := append([]podOpt{ownedBy(rs.name), requests(append([]string{"cpu", rs.cpu, "memory", rs.memory}, rs.extra...)...)}, rs.opts...)
			out = append(out, makePod(fmt.Sprintf("%s-%05d", rs.name, i), opts...))
			added = true
		}
		if !added {
			return out
		}
	}
}

func newCluster(nodes []*corev1.Node) ([]*NodeInfo, map[string]*NodeInfo) {
	infos := make([]*NodeInfo, len(nodes))
	byName := make(map[string]*NodeInfo, len(nodes))
	for i, n := range nodes {
		infos[i] = NewNodeInfo(n)
		byName[n.Name] = infos[i]
	}
	return infos, byName
}

// BenchmarkSchedule places the scenario's 10,000 pods onto its 1,000 nodes one
// by one (NewPodInfo, Schedule, AddPod), as the scheduler service does, and
// reports placements per second.
func BenchmarkSchedule(b *testing.B) {
	nodeObjs, pods := benchScenario.buildNodes(), benchScenario.buildPods()
	unschedulable := 0
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		nodes, byName := newCluster(nodeObjs)
		s := New()
		cpuStart := processCPUTime()
		b.StartTimer()
		for _, p := range pods {
			pi, err := NewPodInfo(p)
			if err != nil {
				b.Fatal(err)
			}
			res, err := s.Schedule(pi, nodes)
			if err != nil {
				unschedulable++
				continue
			}
			byName[res.Node].AddPod(pi)
		}
		cpu += processCPUTime() - cpuStart
	}
	placements := float64(len(pods) * b.N)
	b.ReportMetric(placements/b.Elapsed().Seconds(), "pods/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/placements, "ns/pod")
	b.ReportMetric(float64(cpu.Nanoseconds())/placements, "cpu-ns/pod")
	b.ReportMetric(float64(unschedulable)/float64(b.N), "unschedulable/op")
}

// BenchmarkScheduleOne measures one decision on the full cluster (10,000 pods
// already placed): the latency of a placement and its allocations.
func BenchmarkScheduleOne(b *testing.B) {
	nodeObjs, pods := benchScenario.buildNodes(), benchScenario.buildPods()
	nodes, byName := newCluster(nodeObjs)
	s := New()
	for _, p := range pods {
		pi := mustPodInfo(b, p)
		if res, err := s.Schedule(pi, nodes); err == nil {
			byName[res.Node].AddPod(pi)
		}
	}
	pod := mustPodInfo(b, makePod("api-extra", ownedBy("api"), requests("cpu", "500m", "memory", "512Mi"),
		preferring(50, term(expr("disk", opIn, "ssd")))))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Schedule(pod, nodes); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchScenarioFits keeps the benchmark honest: every pod of the scenario
// is placed, and no node holds more than one ingress pod (they share a host port).
func TestBenchScenarioFits(t *testing.T) {
	if testing.Short() {
		t.Skip("places 10,000 pods")
	}
	nodes, byName := newCluster(benchScenario.buildNodes())
	s := New()
	perNode := map[string]map[string]int{}
	for _, p := range benchScenario.buildPods() {
		pi := mustPodInfo(t, p)
		res, err := s.Schedule(pi, nodes)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		byName[res.Node].AddPod(pi)
		if perNode[res.Node] == nil {
			perNode[res.Node] = map[string]int{}
		}
		perNode[res.Node][string(pi.Owner)]++
	}
	used, maxWeb := 0, 0
	for _, owners := range perNode {
		used++
		if owners["ingress"] > 1 {
			t.Errorf("a node holds %d ingress pods", owners["ingress"])
		}
		maxWeb = max(maxWeb, owners["web"])
	}
	t.Logf("%d of %d nodes used; at most %d web pods on one node", used, len(nodes), maxWeb)
}
