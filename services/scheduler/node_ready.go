package scheduler

import corev1 "k8s.io/api/core/v1"

// The taints Kubernetes puts on nodes that are cordoned, not ready or
// unreachable. A pod that tolerates one (a DaemonSet's pods do) may be placed on
// such a node even when the taint itself is not on the Node object.
var (
	taintUnschedulable = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	taintNotReady      = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	taintUnreachable   = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
)

// NodeReady rejects nodes that are cordoned (spec.unschedulable), whose Ready
// condition is False or absent, or whose Ready condition is Unknown (the node
// stopped reporting), unless the pod tolerates the matching Kubernetes taint:
// node.kubernetes.io/unschedulable, not-ready or unreachable with effect
// NoSchedule.
type NodeReady struct{}

// Reasons given by NodeReady.
const (
	ReasonUnschedulable = "node(s) were unschedulable"
	ReasonNotReady      = "node(s) were not ready"
	ReasonUnreachable   = "node(s) were unreachable"
)

var (
	statusUnschedulable = newStatus("NodeReady", ReasonUnschedulable)
	statusNotReady      = newStatus("NodeReady", ReasonNotReady)
	statusUnreachable   = newStatus("NodeReady", ReasonUnreachable)
)

// Name implements FilterPlugin.
func (NodeReady) Name() string { return "NodeReady" }

// Filter implements FilterPlugin.
func (NodeReady) Filter(pod *PodInfo, node *NodeInfo) *Status {
	if node.unschedulable && !pod.toleratesUnschedulable {
		return statusUnschedulable
	}
	switch node.ready {
	case corev1.ConditionTrue:
		return nil
	case corev1.ConditionUnknown:
		if !pod.toleratesUnreachable {
			return statusUnreachable
		}
	default:
		if !pod.toleratesNotReady {
			return statusNotReady
		}
	}
	return nil
}
