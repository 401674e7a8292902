package object

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestPodRequestsAndLimitsAggregateLikeKubernetes(t *testing.T) {
	rl := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	c := func(req, lim corev1.ResourceList) corev1.Container {
		return corev1.Container{Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
	}
	always := corev1.ContainerRestartPolicyAlways
	sidecar := c(rl("cpu", "100m"), rl("cpu", "200m"))
	sidecar.RestartPolicy = &always
	tests := []struct {
		name         string
		spec         corev1.PodSpec
		reqs, limits corev1.ResourceList
	}{
		{name: "nothing", spec: corev1.PodSpec{Containers: []corev1.Container{c(nil, nil)}}, reqs: rl(), limits: rl()},
		{name: "containers add up; limits stand in for requests",
			spec: corev1.PodSpec{Containers: []corev1.Container{c(rl("cpu", "100m", "memory", "64Mi"), rl("cpu", "1")), c(nil, rl("memory", "128Mi"))}},
			reqs: rl("cpu", "100m", "memory", "192Mi"), limits: rl("cpu", "1", "memory", "128Mi")},
		{name: "a larger init container wins",
			spec: corev1.PodSpec{InitContainers: []corev1.Container{c(rl("cpu", "2"), rl("cpu", "3"))}, Containers: []corev1.Container{c(rl("cpu", "500m", "memory", "1Gi"), nil)}},
			reqs: rl("cpu", "2", "memory", "1Gi"), limits: rl("cpu", "3")},
		{name: "sidecars add to the containers and to later init containers",
			spec: corev1.PodSpec{InitContainers: []corev1.Container{sidecar, c(rl("cpu", "350m"), nil)}, Containers: []corev1.Container{c(rl("cpu", "100m"), rl("cpu", "100m"))}},
			reqs: rl("cpu", "450m"), limits: rl("cpu", "300m")},
		{name: "pod-level resources replace cpu and memory; overhead adds to limited resources only",
			spec: corev1.PodSpec{Containers: []corev1.Container{c(rl("cpu", "1", "ephemeral-storage", "1Gi"), nil)},
				Resources: &corev1.ResourceRequirements{Limits: rl("memory", "1Gi")}, Overhead: rl("cpu", "10m", "memory", "1Mi")},
			reqs: rl("cpu", "1010m", "memory", "1025Mi", "ephemeral-storage", "1Gi"), limits: rl("memory", "1025Mi")},
	}
	same := func(a, b corev1.ResourceList) bool {
		if len(a) != len(b) {
			return false
		}
		for name, q := range a {
			if w, ok := b[name]; !ok || q.Cmp(w) != 0 {
				return false
			}
		}
		return true
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: tt.spec}
			if got := PodRequests(pod); !same(got, tt.reqs) {
				t.Errorf("PodRequests = %v, want %v", got, tt.reqs)
			}
			if got := PodLimits(pod); !same(got, tt.limits) {
				t.Errorf("PodLimits = %v, want %v", got, tt.limits)
			}
		})
	}
}
