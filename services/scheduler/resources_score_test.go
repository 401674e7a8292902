package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestLeastAllocated(t *testing.T) {
	tests := []struct {
		name   string
		node   *corev1.Node
		placed []*corev1.Pod
		pod    *corev1.Pod
		want   int64
	}{
		{"empty node, pod takes a quarter", makeNode("n", "4", "8Gi"), nil,
			makePod("p", requests("cpu", "1", "memory", "2Gi")), 75},
		{"half used after placing", makeNode("n", "4", "8Gi"), []*corev1.Pod{makePod("a", requests("cpu", "1", "memory", "2Gi"))},
			makePod("p", requests("cpu", "1", "memory", "2Gi")), 50},
		{"cpu and memory are averaged", makeNode("n", "4", "8Gi"), nil,
			makePod("p", requests("cpu", "4", "memory", "0")), 50},
		{"best-effort counts as 100m and 200Mi", makeNode("n", "1", "1Gi"), nil,
			makePod("p", withContainer(nil, nil)), (90 + 80) / 2},
		{"best-effort placed pods count too", makeNode("n", "1", "1Gi"), []*corev1.Pod{makePod("a", withContainer(nil, nil))},
			makePod("p", requests("cpu", "0", "memory", "0")), (90 + 80) / 2},
		{"over capacity scores 0", makeNode("n", "1", "1Gi"), nil,
			makePod("p", requests("cpu", "2", "memory", "2Gi")), 0},
		{"a node without memory is scored on cpu", makeNode("n", "2", "0"), nil,
			makePod("p", requests("cpu", "1")), 50},
		{"a node without cpu or memory scores 0", makeNode("n", "0", "0"), nil, makePod("p"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LeastAllocated{}.Score(mustPodInfo(t, tt.pod), nodeWith(t, tt.node, tt.placed...))
			if got != tt.want {
				t.Errorf("Score = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBalancedAllocation(t *testing.T) {
	tests := []struct {
		name   string
		node   *corev1.Node
		placed []*corev1.Pod
		pod    *corev1.Pod
		want   int64
	}{
		{"equal fractions are perfectly balanced", makeNode("n", "4", "8Gi"), nil,
			makePod("p", requests("cpu", "2", "memory", "4Gi")), 100},
		{"quarter cpu, eighth memory", makeNode("n", "4", "8Gi"), nil,
			makePod("p", requests("cpu", "1", "memory", "1Gi")), 93},
		{"placed pods count with their real requests", makeNode("n", "4", "8Gi"),
			[]*corev1.Pod{makePod("a", requests("cpu", "2")), makePod("b", withContainer(nil, nil))},
			makePod("p", requests("memory", "4Gi")), 100},
		{"fractions are capped at 1", makeNode("n", "4", "8Gi"), nil,
			makePod("p", requests("cpu", "8")), 50},
		{"a pod requesting neither cpu nor memory scores 0", makeNode("n", "4", "8Gi"), nil,
			makePod("p", requests("nvidia.com/gpu", "1")), 0},
		{"one resource alone is balanced", makeNode("n", "4", "0"), nil,
			makePod("p", requests("cpu", "1")), 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BalancedAllocation{}.Score(mustPodInfo(t, tt.pod), nodeWith(t, tt.node, tt.placed...))
			if got != tt.want {
				t.Errorf("Score = %d, want %d", got, tt.want)
			}
		})
	}
}
