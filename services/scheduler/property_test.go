package scheduler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// randomNode draws a node from a small space of capacities, labels, taints,
// conditions and allocatable pods, so that every filter both passes and fails.
func randomNode(rng *rand.Rand, i int) *corev1.Node {
	opts := []nodeOpt{labelled("zone", []string{"a", "b", "c"}[rng.IntN(3)], "cores", fmt.Sprint(2<<rng.IntN(4)))}
	if rng.IntN(4) == 0 {
		opts = append(opts, labelled("disk", "ssd"))
	}
	switch rng.IntN(10) {
	case 0:
		opts = append(opts, tainted("dedicated", "gpu", noSchedule))
	case 1:
		opts = append(opts, tainted("spot", "", preferNoSchedule))
	case 2:
		opts = append(opts, tainted("maint", "", noExecute))
	}
	switch rng.IntN(20) {
	case 0:
		opts = append(opts, readiness(corev1.ConditionFalse))
	case 1:
		opts = append(opts, cordoned)
	case 2:
		opts = append(opts, readiness(corev1.ConditionUnknown))
	}
	opts = append(opts, allocatable("pods", fmt.Sprint(2+rng.IntN(8))))
	if rng.IntN(5) == 0 {
		opts = append(opts, allocatable("nvidia.com/gpu", "2"))
	}
	return makeNode(fmt.Sprintf("node-%02d", i), fmt.Sprint(1+rng.IntN(8)), fmt.Sprintf("%dGi", 1+rng.IntN(16)), opts...)
}

// randomPod draws a pod that uses every kind of constraint now and then.
func randomPod(rng *rand.Rand, i int) *corev1.Pod {
	opts := []podOpt{
		ownedBy(fmt.Sprintf("rs-%d", rng.IntN(4))),
		requests("cpu", fmt.Sprintf("%dm", 100*rng.IntN(20)), "memory", fmt.Sprintf("%dMi", 128*rng.IntN(16))),
	}
	if rng.IntN(8) == 0 {
		opts = append(opts, withInit(rl("cpu", fmt.Sprint(1+rng.IntN(4))), false))
	}
	if rng.IntN(6) == 0 {
		opts = append(opts, selecting("zone", []string{"a", "b", "c"}[rng.IntN(3)]))
	}
	if rng.IntN(6) == 0 {
		opts = append(opts, requiring(term(expr("cores", opGt, fmt.Sprint(rng.IntN(16))))))
	}
	if rng.IntN(3) == 0 {
		opts = append(opts, preferring(int32(1+rng.IntN(100)), term(expr("disk", opExistsNS))))
	}
	if rng.IntN(5) == 0 {
		opts = append(opts, tolerating("dedicated", opEqual, "gpu", noSchedule))
	}
	if rng.IntN(10) == 0 {
		opts = append(opts, tolerating("", opExists, "", ""))
	}
	if rng.IntN(6) == 0 {
		opts = append(opts, hostPorts(port(int32(8080+rng.IntN(3)), "", []string{"", "10.0.0.1"}[rng.IntN(2)])))
	}
	if rng.IntN(10) == 0 {
		opts = append(opts, requests("nvidia.com/gpu", "1"))
	}
	return makePod(fmt.Sprintf("pod-%04d", i), opts...)
}

// TestScheduleProperties fills random clusters pod by pod and checks, for every
// decision, that the chosen node passes every filter on its own, that no
// feasible node has a higher total, that every plugin score is in range, and
// that a FitError lists every node with the status the filters give it.
func TestScheduleProperties(t *testing.T) {
	s := New()
	filters := DefaultFilters()
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 42))
		var nodes []*NodeInfo
		for i := range 1 + rng.IntN(30) {
			nodes = append(nodes, NewNodeInfo(randomNode(rng, i)))
		}
		placed, failed := 0, 0
		for i := range 150 {
			pod := mustPodInfo(t, randomPod(rng, i))
			res, err := s.Schedule(pod, nodes)
			var fe *FitError
			switch {
			case errors.As(err, &fe):
				failed++
				checkFitError(t, s, pod, nodes, fe)
				continue
			case err != nil:
				t.Fatalf("seed %d pod %d: %v", seed, i, err)
			}
			placed++
			var chosen *NodeInfo
			for _, n := range nodes {
				if n.Name() == res.Node {
					chosen = n
				}
			}
			for _, f := range filters {
				if st := f.Filter(pod, chosen); st != nil {
					t.Fatalf("seed %d pod %d: chose %s, which %s rejects: %v", seed, i, res.Node, f.Name(), st)
				}
			}
			checkScores(t, s, pod, nodes, res)
			chosen.AddPod(pod)
		}
		if placed == 0 || failed == 0 {
			t.Logf("seed %d: %d placed, %d unschedulable", seed, placed, failed)
		}
	}
}

func checkFitError(t *testing.T, s *Scheduler, pod *PodInfo, nodes []*NodeInfo, fe *FitError) {
	t.Helper()
	if fe.NumAllNodes != len(nodes) || len(fe.Nodes) != len(nodes) {
		t.Fatalf("FitError covers %d/%d of %d nodes", len(fe.Nodes), fe.NumAllNodes, len(nodes))
	}
	byName := map[string]*NodeInfo{}
	for _, n := range nodes {
		byName[n.Name()] = n
	}
	for _, ns := range fe.Nodes {
		want := s.Filter(pod, byName[ns.Node])
		if want == nil || want.String() != ns.Status.String() {
			t.Fatalf("FitError says %s: %v; the filters say %v", ns.Node, ns.Status, want)
		}
	}
}

// checkScores verifies the winner's scores: each in range, summing to the
// total, and no feasible node with a higher total than the winner's, computed
// by a plain reference implementation of filtering and scoring.
func checkScores(t *testing.T, s *Scheduler, pod *PodInfo, nodes []*NodeInfo, res Result) {
	t.Helper()
	var sum int64
	for _, ps := range res.Scores {
		if ps.Score < 0 || ps.Score > MaxNodeScore {
			t.Fatalf("%s scored %d", ps.Plugin, ps.Score)
		}
		sum += ps.Score * ps.Weight
	}
	if sum != res.Score {
		t.Fatalf("Score %d is not the weighted sum %d of %+v", res.Score, sum, res.Scores)
	}
	totals := referenceTotals(s, pod, nodes)
	if totals[res.Node] != res.Score {
		t.Fatalf("winner %s: reference total %d, Schedule says %d", res.Node, totals[res.Node], res.Score)
	}
	for name, total := range totals {
		if total > res.Score {
			t.Fatalf("chose %s (%d) but %s scores %d", res.Node, res.Score, name, total)
		}
	}
}

func referenceTotals(s *Scheduler, pod *PodInfo, nodes []*NodeInfo) map[string]int64 {
	var feasible []*NodeInfo
	for _, n := range nodes {
		if s.Filter(pod, n) == nil {
			feasible = append(feasible, n)
		}
	}
	totals := map[string]int64{}
	for _, ws := range s.scores {
		scores := make([]int64, len(feasible))
		for i, n := range feasible {
			scores[i] = ws.Plugin.Score(pod, n)
		}
		if nz, ok := ws.Plugin.(ScoreNormalizer); ok {
			nz.NormalizeScores(pod, scores)
		}
		for i, n := range feasible {
			totals[n.Name()] += scores[i] * ws.Weight
		}
	}
	return totals
}
