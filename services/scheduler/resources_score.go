package scheduler

import "math"

// LeastAllocated scores nodes by the share of cpu and memory that would remain
// free after placing the pod, as Kubernetes' NodeResourcesFit LeastAllocated
// strategy with equal weights: the mean over cpu and memory of
// (allocatable - requested) × MaxNodeScore / allocatable, where requested counts
// a container that requests no cpu or memory as requesting 100m and 200Mi, so
// best-effort pods still spread. A resource the node has none of is left out.
type LeastAllocated struct{}

// Name implements ScorePlugin.
func (LeastAllocated) Name() string { return "LeastAllocated" }

// Score implements ScorePlugin.
func (LeastAllocated) Score(pod *PodInfo, node *NodeInfo) int64 {
	var sum, n int64
	if alloc := node.allocatable.MilliCPU; alloc > 0 {
		sum += leastRequested(node.nonZeroMilliCPU+pod.nonZeroMilliCPU, alloc)
		n++
	}
	if alloc := node.allocatable.Memory; alloc > 0 {
		sum += leastRequested(node.nonZeroMemory+pod.nonZeroMemory, alloc)
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

func leastRequested(requested, capacity int64) int64 {
	if requested > capacity {
		return 0
	}
	return (capacity - requested) * MaxNodeScore / capacity
}

// BalancedAllocation scores nodes by how evenly cpu and memory would be used
// after placing the pod, as Kubernetes' NodeResourcesBalancedAllocation:
// (1 - |cpuFraction - memoryFraction| / 2) × MaxNodeScore, each fraction being
// requested / allocatable capped at 1, counted with the pods' real requests. It
// gives every node 0 for a pod that requests neither cpu nor memory, which
// Kubernetes skips for the same reason: so that best-effort pods do not all
// chase the one most balanced node.
type BalancedAllocation struct{}

// Name implements ScorePlugin.
func (BalancedAllocation) Name() string { return "BalancedAllocation" }

// Score implements ScorePlugin.
func (BalancedAllocation) Score(pod *PodInfo, node *NodeInfo) int64 {
	if pod.Requests.MilliCPU == 0 && pod.Requests.Memory == 0 {
		return 0
	}
	var fractions [2]float64
	n := 0
	if alloc := node.allocatable.MilliCPU; alloc > 0 {
		fractions[n] = min(1, float64(node.requested.MilliCPU+pod.Requests.MilliCPU)/float64(alloc))
		n++
	}
	if alloc := node.allocatable.Memory; alloc > 0 {
		fractions[n] = min(1, float64(node.requested.Memory+pod.Requests.Memory)/float64(alloc))
		n++
	}
	std := 0.0
	if n == 2 {
		std = math.Abs(fractions[0]-fractions[1]) / 2
	}
	return int64((1 - std) * float64(MaxNodeScore))
}
