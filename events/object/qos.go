package object

import (
	corev1 "k8s.io/api/core/v1"
)

// PodQOS is the QoS class Kubernetes gives pod (pkg/apis/core/v1/helper/qos):
// Guaranteed when every container, init containers included, requests exactly
// what it limits for both cpu and memory and limits both; BestEffort when no
// container requests or limits cpu or memory; Burstable otherwise. When the pod
// sets pod-level cpu or memory resources, those alone decide. A resource that is
// limited but not requested counts as requesting its limit, as the API server's
// defaulting makes it, so the answer is the same before and after Default. The
// pod's status.qosClass is ignored: this computes it.
func PodQOS(pod *corev1.Pod) corev1.PodQOSClass {
	if r := pod.Spec.Resources; r != nil && (hasQOSResource(r.Requests) || hasQOSResource(r.Limits)) {
		return requirementsQOS(r)
	}
	var class corev1.PodQOSClass
	for _, containers := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range containers {
			c := requirementsQOS(&containers[i].Resources)
			switch {
			case c == corev1.PodQOSBurstable:
				return c
			case class == "":
				class = c
			case class != c: // one container Guaranteed, another BestEffort
				return corev1.PodQOSBurstable
			}
		}
	}
	if class == "" {
		return corev1.PodQOSBestEffort
	}
	return class
}

// qosResources are the resources that decide a QoS class.
var qosResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}

func hasQOSResource(l corev1.ResourceList) bool {
	for _, name := range qosResources {
		if _, ok := l[name]; ok {
			return true
		}
	}
	return false
}

// requirementsQOS classes one set of requirements: Guaranteed when cpu and
// memory are both limited and requested at their limits, BestEffort when
// neither is requested nor limited, Burstable otherwise.
func requirementsQOS(r *corev1.ResourceRequirements) corev1.PodQOSClass {
	var class corev1.PodQOSClass
	for _, name := range qosResources {
		lim, limited := r.Limits[name]
		req, requested := r.Requests[name]
		if !requested && limited {
			req = lim
		}
		var c corev1.PodQOSClass
		switch {
		case !req.Equal(lim):
			return corev1.PodQOSBurstable
		case req.IsZero():
			c = corev1.PodQOSBestEffort
		default:
			c = corev1.PodQOSGuaranteed
		}
		if class == "" {
			class = c
		} else if class != c {
			return corev1.PodQOSBurstable
		}
	}
	return class
}
