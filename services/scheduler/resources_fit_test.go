package scheduler

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestNodeResourcesFit(t *testing.T) {
	// A 2-cpu, 4Gi node with 1 cpu and 1Gi already requested by one pod.
	base := func(opts ...nodeOpt) *corev1.Node {
		return makeNode("n", "2", "4Gi", append([]nodeOpt{allocatable("ephemeral-storage", "10Gi", "nvidia.com/gpu", "1")}, opts...)...)
	}
	placed := makePod("placed", requests("cpu", "1", "memory", "1Gi"))
	tests := []struct {
		name string
		node *corev1.Node
		pod  *corev1.Pod
		want []string
	}{
		{"fits", base(), makePod("p", requests("cpu", "1", "memory", "3Gi")), nil},
		{"zero requests always fit", base(allocatable("cpu", "1")), makePod("p", withContainer(nil, nil)), nil},
		{"cpu short", base(), makePod("p", requests("cpu", "1001m")), []string{ReasonInsufficientCPU}},
		{"memory exactly fills the node", base(), makePod("p", requests("memory", "3Gi", "cpu", "1m")), nil},
		{"memory short by a byte", base(), makePod("p", requests("memory", "3221225473")), []string{ReasonInsufficientMemory}},
		{"every shortfall is a reason", base(),
			makePod("p", requests("cpu", "2", "memory", "4Gi", "ephemeral-storage", "11Gi", "nvidia.com/gpu", "2", "example.com/fpga", "1")),
			[]string{ReasonInsufficientCPU, ReasonInsufficientMemory, ReasonInsufficientEphemeral,
				"Insufficient example.com/fpga", "Insufficient nvidia.com/gpu"}},
		{"extended resource fits", base(), makePod("p", requests("nvidia.com/gpu", "1")), nil},
		{"extended resource the node lacks", base(), makePod("p", requests("example.com/fpga", "1")),
			[]string{"Insufficient example.com/fpga"}},
		{"too many pods", base(allocatable("pods", "1")), makePod("p"), []string{ReasonTooManyPods}},
		{"too many pods even for a pod requesting nothing", base(allocatable("pods", "1")), makePod("p", withContainer(nil, nil)),
			[]string{ReasonTooManyPods}},
		{"too many pods and short of cpu", base(allocatable("pods", "1")), makePod("p", requests("cpu", "2")),
			[]string{ReasonTooManyPods, ReasonInsufficientCPU}},
		{"init container larger than the room", base(),
			makePod("p", requests("cpu", "100m"), withInit(rl("cpu", "1500m"), false)),
			[]string{ReasonInsufficientCPU}},
		{"limits as requests", base(), makePod("p", withContainer(nil, rl("cpu", "1500m"))),
			[]string{ReasonInsufficientCPU}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reasons(NodeResourcesFit{}.Filter(mustPodInfo(t, tt.pod), nodeWith(t, tt.node, placed)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}
