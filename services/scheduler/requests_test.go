package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodRequests(t *testing.T) {
	const mi = 1024 * 1024
	tests := []struct {
		name    string
		pod     *corev1.Pod
		want    Resources
		nonZero [2]int64 // milli-cpu, memory counted for scoring
	}{
		{
			name:    "no containers requests nothing",
			pod:     makePod("p"),
			want:    Resources{},
			nonZero: [2]int64{0, 0},
		},
		{
			name:    "zero requests count as the defaults for scoring",
			pod:     makePod("p", withContainer(nil, nil)),
			want:    Resources{},
			nonZero: [2]int64{100, 200 * mi},
		},
		{
			name:    "explicit zero is not missing",
			pod:     makePod("p", requests("cpu", "0", "memory", "0")),
			want:    Resources{},
			nonZero: [2]int64{0, 0},
		},
		{
			name:    "containers sum",
			pod:     makePod("p", requests("cpu", "250m", "memory", "64Mi"), requests("cpu", "500m", "memory", "128Mi")),
			want:    Resources{MilliCPU: 750, Memory: 192 * mi},
			nonZero: [2]int64{750, 192 * mi},
		},
		{
			name:    "limits without requests request the limits",
			pod:     makePod("p", withContainer(rl("memory", "64Mi"), rl("cpu", "2", "memory", "1Gi"))),
			want:    Resources{MilliCPU: 2000, Memory: 64 * mi},
			nonZero: [2]int64{2000, 64 * mi},
		},
		{
			name: "init container larger than the app containers wins",
			pod: makePod("p", requests("cpu", "100m", "memory", "100Mi"),
				withInit(rl("cpu", "2", "memory", "10Mi"), false)),
			want:    Resources{MilliCPU: 2000, Memory: 100 * mi},
			nonZero: [2]int64{2000, 100 * mi},
		},
		{
			name: "init containers run one at a time: the largest, not the sum",
			pod: makePod("p", requests("cpu", "100m"),
				withInit(rl("cpu", "1"), false), withInit(rl("cpu", "1500m"), false)),
			want:    Resources{MilliCPU: 1500},
			nonZero: [2]int64{1500, 200 * mi},
		},
		{
			name: "sidecars add to the containers and to the init containers after them",
			pod: makePod("p", requests("cpu", "100m"),
				withInit(rl("cpu", "200m"), true), withInit(rl("cpu", "1"), false)),
			// app: 100m + sidecar 200m = 300m; init after the sidecar: 1 + 200m.
			want:    Resources{MilliCPU: 1200},
			nonZero: [2]int64{1200, 400 * mi},
		},
		{
			name: "overhead is added",
			pod: func() *corev1.Pod {
				p := makePod("p", requests("cpu", "1"))
				p.Spec.Overhead = rl("cpu", "250m", "memory", "120Mi")
				return p
			}(),
			want:    Resources{MilliCPU: 1250, Memory: 120 * mi},
			nonZero: [2]int64{1250, 320 * mi},
		},
		{
			name: "pod-level requests replace the containers' cpu and memory",
			pod: func() *corev1.Pod {
				p := makePod("p", requests("cpu", "1", "ephemeral-storage", "1Gi"))
				p.Spec.Resources = &corev1.ResourceRequirements{Requests: rl("cpu", "3"), Limits: rl("memory", "2Gi")}
				return p
			}(),
			want:    Resources{MilliCPU: 3000, Memory: 2048 * mi, EphemeralStorage: 1024 * mi},
			nonZero: [2]int64{3000, 2048 * mi},
		},
		{
			name: "extended resources and hugepages are scalars, sorted",
			pod:  makePod("p", requests("nvidia.com/gpu", "2", "hugepages-2Mi", "4Mi", "example.com/zero", "0")),
			want: Resources{Scalar: []ScalarResource{
				{Name: "hugepages-2Mi", Value: 4 * mi},
				{Name: "nvidia.com/gpu", Value: 2},
			}},
			nonZero: [2]int64{100, 200 * mi},
		},
		{
			name:    "fractional millicores round up",
			pod:     makePod("p", requests("cpu", "0.0001")),
			want:    Resources{MilliCPU: 1},
			nonZero: [2]int64{1, 200 * mi},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi := mustPodInfo(t, tt.pod)
			if !reflect.DeepEqual(pi.Requests, tt.want) {
				t.Errorf("Requests = %+v, want %+v", pi.Requests, tt.want)
			}
			if got := [2]int64{pi.nonZeroMilliCPU, pi.nonZeroMemory}; got != tt.nonZero {
				t.Errorf("non-zero requests = %v, want %v", got, tt.nonZero)
			}
		})
	}
}

func TestUnenforcedFields(t *testing.T) {
	p := makePod("p", preferring(1, term(expr("zone", opIn, "a"))))
	p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
	p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone"}}
	want := []string{"spec.affinity.podAntiAffinity", "spec.topologySpreadConstraints"}
	if got := mustPodInfo(t, p).Unenforced; !reflect.DeepEqual(got, want) {
		t.Errorf("Unenforced = %q, want %q", got, want)
	}
	if got := mustPodInfo(t, makePod("q", requests("cpu", "1"))).Unenforced; got != nil {
		t.Errorf("Unenforced of a plain pod = %q, want none", got)
	}
}
