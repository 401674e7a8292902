package object

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestPodQOSFollowsKubernetes(t *testing.T) {
	rl := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	c := func(req, lim corev1.ResourceList) corev1.Container {
		return corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
	}
	both := rl("cpu", "500m", "memory", "128Mi")
	tests := []struct {
		name       string
		init, main []corev1.Container
		podLevel   *corev1.ResourceRequirements
		want       corev1.PodQOSClass
	}{
		{name: "nothing set", main: []corev1.Container{c(nil, nil)}, want: corev1.PodQOSBestEffort},
		{name: "only other resources", main: []corev1.Container{c(rl("ephemeral-storage", "1Gi"), nil)}, want: corev1.PodQOSBestEffort},
		{name: "requests equal limits", main: []corev1.Container{c(both, both)}, want: corev1.PodQOSGuaranteed},
		{name: "limits only: requests default to them", main: []corev1.Container{c(nil, both)}, want: corev1.PodQOSGuaranteed},
		{name: "requests below limits", main: []corev1.Container{c(rl("cpu", "250m", "memory", "64Mi"), both)}, want: corev1.PodQOSBurstable},
		{name: "cpu request below its limit", main: []corev1.Container{c(rl("cpu", "250m", "memory", "128Mi"), both)}, want: corev1.PodQOSBurstable},
		{name: "equal quantities written differently", main: []corev1.Container{c(rl("cpu", "0.5", "memory", "134217728"), both)}, want: corev1.PodQOSGuaranteed},
		{name: "requests only", main: []corev1.Container{c(both, nil)}, want: corev1.PodQOSBurstable},
		{name: "memory limited, cpu not", main: []corev1.Container{c(nil, rl("memory", "128Mi"))}, want: corev1.PodQOSBurstable},
		{name: "one guaranteed, one best effort", main: []corev1.Container{c(both, both), c(nil, nil)}, want: corev1.PodQOSBurstable},
		{name: "two guaranteed", main: []corev1.Container{c(both, both), c(nil, rl("cpu", "1", "memory", "1Gi"))}, want: corev1.PodQOSGuaranteed},
		{name: "init container best effort", init: []corev1.Container{c(nil, nil)}, main: []corev1.Container{c(both, both)}, want: corev1.PodQOSBurstable},
		{name: "init container below its limits", init: []corev1.Container{c(rl("cpu", "100m", "memory", "128Mi"), both)}, main: []corev1.Container{c(both, both)}, want: corev1.PodQOSBurstable},
		{name: "init container guaranteed", init: []corev1.Container{c(nil, both)}, main: []corev1.Container{c(both, both)}, want: corev1.PodQOSGuaranteed},
		{name: "pod-level resources decide", main: []corev1.Container{c(nil, nil)}, podLevel: &corev1.ResourceRequirements{Limits: both}, want: corev1.PodQOSGuaranteed},
		{name: "pod-level requests below limits", main: []corev1.Container{c(both, both)}, podLevel: &corev1.ResourceRequirements{Requests: rl("cpu", "100m"), Limits: both}, want: corev1.PodQOSBurstable},
		{name: "empty pod-level resources are ignored", main: []corev1.Container{c(both, both)}, podLevel: &corev1.ResourceRequirements{}, want: corev1.PodQOSGuaranteed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{InitContainers: tt.init, Containers: tt.main, Resources: tt.podLevel}}
			if got := PodQOS(pod); got != tt.want {
				t.Errorf("PodQOS = %s, want %s", got, tt.want)
			}
			Default(pod)
			if got := PodQOS(pod); got != tt.want {
				t.Errorf("after Default: PodQOS = %s, want %s", got, tt.want)
			}
		})
	}
}
