package scheduler

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const (
	noSchedule       = corev1.TaintEffectNoSchedule
	noExecute        = corev1.TaintEffectNoExecute
	preferNoSchedule = corev1.TaintEffectPreferNoSchedule
	opExists         = corev1.TolerationOpExists
	opEqual          = corev1.TolerationOpEqual
)

func TestTaintTolerationFilter(t *testing.T) {
	gpu := tainted("dedicated", "gpu", noSchedule)
	tests := []struct {
		name string
		node *corev1.Node
		pod  *corev1.Pod
		want []string
	}{
		{"no taints", makeNode("n", "1", "1Gi"), makePod("p"), nil},
		{"untolerated NoSchedule", makeNode("n", "1", "1Gi", gpu), makePod("p"),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"untolerated NoExecute", makeNode("n", "1", "1Gi", tainted("maint", "", noExecute)), makePod("p"),
			[]string{"node(s) had untolerated taint {maint: }"}},
		{"PreferNoSchedule never filters", makeNode("n", "1", "1Gi", tainted("spot", "true", preferNoSchedule)), makePod("p"), nil},
		{"Equal with the same value", makeNode("n", "1", "1Gi", gpu),
			makePod("p", tolerating("dedicated", opEqual, "gpu", noSchedule)), nil},
		{"empty operator means Equal", makeNode("n", "1", "1Gi", gpu),
			makePod("p", tolerating("dedicated", "", "gpu", noSchedule)), nil},
		{"Equal with another value", makeNode("n", "1", "1Gi", gpu),
			makePod("p", tolerating("dedicated", opEqual, "db", noSchedule)),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"Exists ignores the value", makeNode("n", "1", "1Gi", gpu),
			makePod("p", tolerating("dedicated", opExists, "", noSchedule)), nil},
		{"effect mismatch: NoExecute toleration, NoSchedule taint", makeNode("n", "1", "1Gi", gpu),
			makePod("p", tolerating("dedicated", opEqual, "gpu", noExecute)),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"effect mismatch: PreferNoSchedule toleration, NoSchedule taint", makeNode("n", "1", "1Gi", gpu),
			makePod("p", tolerating("dedicated", opExists, "", preferNoSchedule)),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"empty effect matches every effect", makeNode("n", "1", "1Gi", gpu, tainted("dedicated", "gpu", noExecute)),
			makePod("p", tolerating("dedicated", opEqual, "gpu", "")), nil},
		{"empty key with Exists tolerates everything", makeNode("n", "1", "1Gi", gpu, tainted("x", "y", noExecute)),
			makePod("p", tolerating("", opExists, "", "")), nil},
		// API validation refuses an empty key without Exists; Kubernetes' matcher
		// then still compares the value, and so do we.
		{"empty key with Equal matches the value under any key", makeNode("n", "1", "1Gi", gpu),
			makePod("p", tolerating("", opEqual, "cpu", "")),
			[]string{"node(s) had untolerated taint {dedicated: gpu}"}},
		{"first untolerated taint in node order is named", makeNode("n", "1", "1Gi",
			tainted("a", "1", noSchedule), tainted("b", "2", noSchedule), tainted("c", "3", noExecute)),
			makePod("p", tolerating("a", opExists, "", "")),
			[]string{"node(s) had untolerated taint {b: 2}"}},
		{"Gt tolerates a taint value above it", makeNode("n", "1", "1Gi", tainted("tier", "5", noSchedule)),
			makePod("p", tolerating("tier", corev1.TolerationOpGt, "3", noSchedule)), nil},
		{"Lt does not tolerate a taint value above it", makeNode("n", "1", "1Gi", tainted("tier", "5", noSchedule)),
			makePod("p", tolerating("tier", corev1.TolerationOpLt, "3", noSchedule)),
			[]string{"node(s) had untolerated taint {tier: 5}"}},
		{"Gt never tolerates a non-integer taint value", makeNode("n", "1", "1Gi", tainted("tier", "5.5", noSchedule)),
			makePod("p", tolerating("tier", corev1.TolerationOpGt, "3", noSchedule)),
			[]string{"node(s) had untolerated taint {tier: 5.5}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reasons(TaintToleration{}.Filter(mustPodInfo(t, tt.pod), NewNodeInfo(tt.node)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTaintTolerationScore(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("clean", "1", "1Gi", tainted("dedicated", "gpu", noSchedule)), // hard taints do not count
		makeNode("one", "1", "1Gi", tainted("spot", "true", preferNoSchedule)),
		makeNode("two", "1", "1Gi", tainted("spot", "true", preferNoSchedule), tainted("slow", "", preferNoSchedule)),
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		raw  []int64
		want []int64
	}{
		{"fewer untolerated taints score higher", makePod("p"), []int64{0, 1, 2}, []int64{100, 50, 0}},
		{"tolerated PreferNoSchedule taints do not count", makePod("p", tolerating("spot", opExists, "", preferNoSchedule)),
			[]int64{0, 0, 1}, []int64{100, 100, 0}},
		{"an empty-effect toleration counts", makePod("p", tolerating("", opExists, "", "")), []int64{0, 0, 0}, []int64{100, 100, 100}},
		{"a NoSchedule toleration does not", makePod("p", tolerating("spot", opExists, "", noSchedule)),
			[]int64{0, 1, 2}, []int64{100, 50, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi := mustPodInfo(t, tt.pod)
			scores := make([]int64, len(nodes))
			for i, n := range nodes {
				scores[i] = TaintToleration{}.Score(pi, NewNodeInfo(n))
			}
			if !slices.Equal(scores, tt.raw) {
				t.Errorf("raw scores = %v, want %v", scores, tt.raw)
			}
			TaintToleration{}.NormalizeScores(pi, scores)
			if !slices.Equal(scores, tt.want) {
				t.Errorf("normalised scores = %v, want %v", scores, tt.want)
			}
		})
	}
}
