package scheduler

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestOwnerSpread(t *testing.T) {
	web := func(name string) *corev1.Pod { return makePod(name, ownedBy("web")) }
	nodes := []*NodeInfo{
		nodeWith(t, makeNode("empty", "1", "1Gi")),
		nodeWith(t, makeNode("one", "1", "1Gi"), web("w1"), makePod("other", ownedBy("db"))),
		nodeWith(t, makeNode("two", "1", "1Gi"), web("w2"), web("w3")),
		nodeWith(t, makeNode("strangers", "1", "1Gi"), makePod("s1", ownedBy("db")), makePod("s2")),
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		raw  []int64
		want []int64
	}{
		{"fewer of the same owner scores higher", web("new"), []int64{0, 1, 2, 0}, []int64{100, 50, 0, 100}},
		{"an owner with no pods yet scores all nodes equal", makePod("new", ownedBy("cache")), []int64{0, 0, 0, 0}, []int64{100, 100, 100, 100}},
		{"a pod without a controller scores all nodes equal", makePod("new"), []int64{0, 0, 0, 0}, []int64{100, 100, 100, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi := mustPodInfo(t, tt.pod)
			scores := make([]int64, len(nodes))
			for i, n := range nodes {
				scores[i] = OwnerSpread{}.Score(pi, n)
			}
			if !slices.Equal(scores, tt.raw) {
				t.Errorf("raw scores = %v, want %v", scores, tt.raw)
			}
			OwnerSpread{}.NormalizeScores(pi, scores)
			if !slices.Equal(scores, tt.want) {
				t.Errorf("normalised scores = %v, want %v", scores, tt.want)
			}
		})
	}
}
