package scheduler

import (
	"fmt"
	"slices"
)

// NodeResourcesFit rejects a node that lacks room for the pod: one more pod than
// its allocatable pods count, or a request for cpu, memory, ephemeral-storage or
// any extended resource larger than allocatable minus what the node's pods
// already request. Zero requests always fit; only the pods count is checked for
// a pod that requests nothing. Every shortfall is a reason, in the order pods,
// cpu, memory, ephemeral-storage, then extended resources by name.
type NodeResourcesFit struct{}

// Reasons given by NodeResourcesFit (extended resources give "Insufficient <name>").
const (
	ReasonTooManyPods           = "Too many pods"
	ReasonInsufficientCPU       = "Insufficient cpu"
	ReasonInsufficientMemory    = "Insufficient memory"
	ReasonInsufficientEphemeral = "Insufficient ephemeral-storage"
)

// Bits of the fixed shortfalls.
const (
	fitPods = 1 << iota
	fitCPU
	fitMem
	fitEph
)

// fitStatuses holds the status of every combination of the four fixed
// shortfalls, so that rejecting a full node allocates nothing.
var fitStatuses = func() (out [16]*Status) {
	for m := 1; m < 16; m++ {
		var reasons []string
		for bit, r := range []string{ReasonTooManyPods, ReasonInsufficientCPU, ReasonInsufficientMemory, ReasonInsufficientEphemeral} {
			if m&(1<<bit) != 0 {
				reasons = append(reasons, r)
			}
		}
		out[m] = newStatus("NodeResourcesFit", reasons...)
	}
	return out
}()

// Name implements FilterPlugin.
func (NodeResourcesFit) Name() string { return "NodeResourcesFit" }

// Filter implements FilterPlugin.
func (NodeResourcesFit) Filter(pod *PodInfo, node *NodeInfo) *Status {
	var short int
	if int64(len(node.pods))+1 > node.allowedPods {
		short |= fitPods
	}
	r, alloc, used := &pod.Requests, &node.allocatable, &node.requested
	if r.MilliCPU > 0 && r.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		short |= fitCPU
	}
	if r.Memory > 0 && r.Memory > alloc.Memory-used.Memory {
		short |= fitMem
	}
	if r.EphemeralStorage > 0 && r.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		short |= fitEph
	}
	// Most often a single extended resource is short: its status is prebuilt.
	firstMissing, missing := -1, 0
	for i, sr := range r.Scalar {
		if sr.Value > alloc.scalar(sr.Name)-used.scalar(sr.Name) {
			if missing == 0 {
				firstMissing = i
			}
			missing++
		}
	}
	switch {
	case missing == 1 && short == 0:
		return pod.insufficient[firstMissing]
	case missing > 0:
		return insufficientStatus(pod, node, short)
	case short != 0:
		return fitStatuses[short]
	}
	return nil
}

// insufficientStatus builds the status of a node short of several resources.
func insufficientStatus(pod *PodInfo, node *NodeInfo, short int) *Status {
	var reasons []string
	if short != 0 {
		reasons = slices.Clone(fitStatuses[short].reasons)
	}
	for i, sr := range pod.Requests.Scalar {
		if sr.Value > node.allocatable.scalar(sr.Name)-node.requested.scalar(sr.Name) {
			reasons = append(reasons, pod.insufficient[i].reasons...)
		}
	}
	return newStatus("NodeResourcesFit", reasons...)
}

// insufficientStatuses prebuilds "Insufficient <name>" for each of the pod's
// extended resources, in the order of r.Scalar.
func insufficientStatuses(r *Resources) []*Status {
	out := make([]*Status, len(r.Scalar))
	for i, sr := range r.Scalar {
		out[i] = newStatus("NodeResourcesFit", fmt.Sprintf("Insufficient %s", sr.Name))
	}
	return out
}
