package scheduler

import (
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
)

// TaintToleration rejects a node with a NoSchedule or NoExecute taint that the
// pod does not tolerate, and scores higher the nodes with fewer untolerated
// PreferNoSchedule taints. Tolerations match as in Kubernetes: an empty effect
// matches every effect, Exists matches every value, an empty key with Exists
// matches every taint, and Gt/Lt compare integer values.
type TaintToleration struct{}

// Name implements FilterPlugin and ScorePlugin.
func (TaintToleration) Name() string { return "TaintToleration" }

func untoleratedTaintStatus(t *corev1.Taint) *Status {
	return newStatus("TaintToleration", fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
}

// Filter implements FilterPlugin. The status names the node's first untolerated
// taint, in the node's order.
func (TaintToleration) Filter(pod *PodInfo, node *NodeInfo) *Status {
	for i := range node.hardTaints {
		if !toleratesTaint(pod.Pod.Spec.Tolerations, &node.hardTaints[i].taint) {
			return node.hardTaints[i].status
		}
	}
	return nil
}

// Score implements ScorePlugin: the raw score is the number of the node's
// PreferNoSchedule taints the pod does not tolerate.
func (TaintToleration) Score(pod *PodInfo, node *NodeInfo) int64 {
	var n int64
	for i := range node.softTaints {
		if !toleratesTaint(pod.Pod.Spec.Tolerations, &node.softTaints[i]) {
			n++
		}
	}
	return n
}

// NormalizeScores implements ScoreNormalizer: the nodes with the most
// untolerated PreferNoSchedule taints score 0, those with none MaxNodeScore.
func (TaintToleration) NormalizeScores(_ *PodInfo, scores []int64) {
	normalize(scores, true)
}

// toleratesTaint reports whether any toleration tolerates the taint, with
// Kubernetes' matching rules including the Gt and Lt operators.
func toleratesTaint(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if tolerations[i].ToleratesTaint(logr.Discard(), taint, true) {
			return true
		}
	}
	return false
}
