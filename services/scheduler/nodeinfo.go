package scheduler

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// NodeInfo is a node as the scheduler sees it: the Node object, what can be
// allocated on it, and the sum of what the pods placed on it use. It is updated
// incrementally: SetNode when the node changes, AddPod and RemovePod when a pod
// is bound to it or leaves it, each in time independent of the size of the
// cluster. A NodeInfo is not safe for concurrent mutation; concurrent reads are.
type NodeInfo struct {
	node *corev1.Node

	// Derived from node by SetNode.
	allocatable   Resources
	allowedPods   int64
	ready         corev1.ConditionStatus // True, False or Unknown; False when absent
	unschedulable bool
	hardTaints    []hardTaint // NoSchedule and NoExecute, with their Status
	softTaints    []corev1.Taint

	// Aggregated from the pods placed on the node.
	pods            map[types.UID]*PodInfo
	requested       Resources
	nonZeroMilliCPU int64
	nonZeroMemory   int64
	ports           hostPortSet
	owners          map[types.UID]int32
}

type hardTaint struct {
	taint  corev1.Taint
	status *Status
}

// NewNodeInfo returns the NodeInfo of node with no pods on it.
func NewNodeInfo(node *corev1.Node) *NodeInfo {
	n := &NodeInfo{pods: make(map[types.UID]*PodInfo), owners: make(map[types.UID]int32)}
	n.SetNode(node)
	return n
}

// SetNode replaces the Node object (new labels, taints, allocatable, conditions)
// and keeps the pods placed on it. Allocatable falls back to capacity for the
// resources a node reports no allocatable amount of.
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.node = node
	alloc := corev1.ResourceList{}
	for name, q := range node.Status.Capacity {
		alloc[name] = q
	}
	for name, q := range node.Status.Allocatable {
		alloc[name] = q
	}
	n.allocatable = resourcesFromList(alloc)
	n.allowedPods = 0
	if q, ok := alloc[corev1.ResourcePods]; ok {
		n.allowedPods = q.Value()
	}

	n.ready = corev1.ConditionFalse
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			n.ready = c.Status
		}
	}
	n.unschedulable = node.Spec.Unschedulable

	n.hardTaints, n.softTaints = n.hardTaints[:0], n.softTaints[:0]
	for _, t := range node.Spec.Taints {
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute:
			n.hardTaints = append(n.hardTaints, hardTaint{taint: t, status: untoleratedTaintStatus(&t)})
		case corev1.TaintEffectPreferNoSchedule:
			n.softTaints = append(n.softTaints, t)
		}
	}
}

// Node is the Node object last given to NewNodeInfo or SetNode.
func (n *NodeInfo) Node() *corev1.Node { return n.node }

// Name is the node's name.
func (n *NodeInfo) Name() string { return n.node.Name }

// NumPods is the number of pods placed on the node.
func (n *NodeInfo) NumPods() int { return len(n.pods) }

// Allocatable is what the node offers to pods.
func (n *NodeInfo) Allocatable() Resources { return cloneResources(n.allocatable) }

// Requested is the sum of the requests of the pods placed on the node.
func (n *NodeInfo) Requested() Resources { return cloneResources(n.requested) }

// Pod returns the placed pod with uid, if any.
func (n *NodeInfo) Pod(uid types.UID) (*PodInfo, bool) {
	p, ok := n.pods[uid]
	return p, ok
}

// AddPod accounts for pod running on the node. Adding a pod whose uid is already
// placed replaces it, so replaying a binding is harmless.
func (n *NodeInfo) AddPod(pod *PodInfo) {
	n.RemovePod(pod.UID())
	n.pods[pod.UID()] = pod
	n.account(pod, 1)
}

// RemovePod releases what the pod with uid used, exactly as much as AddPod
// accounted for it. It reports whether the pod was placed on the node.
func (n *NodeInfo) RemovePod(uid types.UID) bool {
	pod, ok := n.pods[uid]
	if !ok {
		return false
	}
	delete(n.pods, uid)
	n.account(pod, -1)
	return true
}

func (n *NodeInfo) account(pod *PodInfo, sign int64) {
	r := &pod.Requests
	n.requested.MilliCPU += sign * r.MilliCPU
	n.requested.Memory += sign * r.Memory
	n.requested.EphemeralStorage += sign * r.EphemeralStorage
	for _, s := range r.Scalar {
		n.requested.Scalar = addScalar(n.requested.Scalar, s.Name, sign*s.Value)
	}
	n.nonZeroMilliCPU += sign * pod.nonZeroMilliCPU
	n.nonZeroMemory += sign * pod.nonZeroMemory
	for _, hp := range pod.hostPorts {
		n.ports.add(hp, int(sign))
	}
	if pod.Owner != "" {
		if c := n.owners[pod.Owner] + int32(sign); c > 0 {
			n.owners[pod.Owner] = c
		} else {
			delete(n.owners, pod.Owner)
		}
	}
}

// addScalar adds delta to name in the sorted list, dropping it when it reaches 0.
func addScalar(list []ScalarResource, name corev1.ResourceName, delta int64) []ScalarResource {
	i, found := slices.BinarySearchFunc(list, name, func(s ScalarResource, n corev1.ResourceName) int {
		return strings.Compare(string(s.Name), string(n))
	})
	if !found {
		return slices.Insert(list, i, ScalarResource{Name: name, Value: delta})
	}
	list[i].Value += delta
	if list[i].Value == 0 {
		return slices.Delete(list, i, i+1)
	}
	return list
}

func cloneResources(r Resources) Resources {
	r.Scalar = slices.Clone(r.Scalar)
	return r
}
