package scheduler

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestNodeReady(t *testing.T) {
	tests := []struct {
		name string
		node *corev1.Node
		pod  *corev1.Pod
		want []string
	}{
		{"ready", makeNode("n", "1", "1Gi"), makePod("p"), nil},
		{"not ready", makeNode("n", "1", "1Gi", readiness(corev1.ConditionFalse)), makePod("p"), []string{ReasonNotReady}},
		{"no Ready condition yet", makeNode("n", "1", "1Gi", noConditions), makePod("p"), []string{ReasonNotReady}},
		{"unknown", makeNode("n", "1", "1Gi", readiness(corev1.ConditionUnknown)), makePod("p"), []string{ReasonUnreachable}},
		{"cordoned", makeNode("n", "1", "1Gi", cordoned), makePod("p"), []string{ReasonUnschedulable}},
		{
			"cordoned and not ready reports the cordon",
			makeNode("n", "1", "1Gi", cordoned, readiness(corev1.ConditionFalse)), makePod("p"),
			[]string{ReasonUnschedulable},
		},
		{
			"not-ready tolerated",
			makeNode("n", "1", "1Gi", readiness(corev1.ConditionFalse)),
			makePod("p", tolerating(corev1.TaintNodeNotReady, corev1.TolerationOpExists, "", corev1.TaintEffectNoSchedule)),
			nil,
		},
		{
			"not-ready tolerated only for NoExecute (the default toleration) is not enough",
			makeNode("n", "1", "1Gi", readiness(corev1.ConditionFalse)),
			makePod("p", tolerating(corev1.TaintNodeNotReady, corev1.TolerationOpExists, "", corev1.TaintEffectNoExecute)),
			[]string{ReasonNotReady},
		},
		{
			"unreachable tolerated with an empty effect",
			makeNode("n", "1", "1Gi", readiness(corev1.ConditionUnknown)),
			makePod("p", tolerating(corev1.TaintNodeUnreachable, corev1.TolerationOpExists, "", "")),
			nil,
		},
		{
			"not-ready toleration does not cover unreachable",
			makeNode("n", "1", "1Gi", readiness(corev1.ConditionUnknown)),
			makePod("p", tolerating(corev1.TaintNodeNotReady, corev1.TolerationOpExists, "", "")),
			[]string{ReasonUnreachable},
		},
		{
			"cordon tolerated",
			makeNode("n", "1", "1Gi", cordoned),
			makePod("p", tolerating(corev1.TaintNodeUnschedulable, corev1.TolerationOpExists, "", corev1.TaintEffectNoSchedule)),
			nil,
		},
		{
			"tolerate everything",
			makeNode("n", "1", "1Gi", cordoned, readiness(corev1.ConditionUnknown)),
			makePod("p", tolerating("", corev1.TolerationOpExists, "", "")),
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reasons(NodeReady{}.Filter(mustPodInfo(t, tt.pod), NewNodeInfo(tt.node)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}
