package object

import (
	corev1 "k8s.io/api/core/v1"
)

// PodRequests is what pod requests, computed as Kubernetes' resource helper
// does (k8s.io/component-helpers/resource PodRequests): the sum of its
// containers and restartable init containers (sidecars), or the largest init
// container plus the sidecars started before it when that is larger; pod-level
// cpu and memory requests replace the containers'; the pod's overhead is added.
// A resource a container limits without requesting counts as requesting its
// limit, as defaulting makes it.
func PodRequests(pod *corev1.Pod) corev1.ResourceList {
	out := aggregate(pod, func(r *corev1.ResourceRequirements) corev1.ResourceList { return requestsOf(r) })
	if r := pod.Spec.Resources; r != nil {
		for name, q := range requestsOf(r) {
			if isPodLevelResource(name) {
				out[name] = q.DeepCopy()
			}
		}
	}
	for name, q := range pod.Spec.Overhead {
		v := out[name]
		v.Add(q)
		out[name] = v
	}
	return out
}

// PodLimits is what pod limits, aggregated like PodRequests (the resource
// helper's PodLimits): pod-level cpu and memory limits replace the containers',
// and the overhead is added only to resources that are limited.
func PodLimits(pod *corev1.Pod) corev1.ResourceList {
	out := aggregate(pod, func(r *corev1.ResourceRequirements) corev1.ResourceList { return r.Limits })
	if r := pod.Spec.Resources; r != nil {
		for name, q := range r.Limits {
			if isPodLevelResource(name) {
				out[name] = q.DeepCopy()
			}
		}
	}
	for name, q := range pod.Spec.Overhead {
		if v, ok := out[name]; ok {
			v.Add(q)
			out[name] = v
		}
	}
	return out
}

// aggregate sums of over the containers and sidecars and takes the larger of
// that and each init container's (plus the sidecars before it).
func aggregate(pod *corev1.Pod, of func(*corev1.ResourceRequirements) corev1.ResourceList) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		addResources(sum, of(&pod.Spec.Containers[i].Resources))
	}
	sidecars, initMax := corev1.ResourceList{}, corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cur := corev1.ResourceList{}
		addResources(cur, of(&c.Resources))
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addResources(sum, cur)
			addResources(sidecars, cur)
			cur = sidecars
		} else {
			addResources(cur, sidecars)
		}
		for name, q := range cur {
			if m, ok := initMax[name]; !ok || q.Cmp(m) > 0 {
				initMax[name] = q.DeepCopy()
			}
		}
	}
	for name, q := range initMax {
		if s, ok := sum[name]; !ok || q.Cmp(s) > 0 {
			sum[name] = q.DeepCopy()
		}
	}
	return sum
}

// requestsOf is r's requests with every limited but unrequested resource
// requesting its limit.
func requestsOf(r *corev1.ResourceRequirements) corev1.ResourceList {
	out := make(corev1.ResourceList, len(r.Requests)+len(r.Limits))
	for name, q := range r.Requests {
		out[name] = q
	}
	for name, q := range r.Limits {
		if _, ok := out[name]; !ok {
			out[name] = q
		}
	}
	return out
}

func addResources(into, l corev1.ResourceList) {
	for name, q := range l {
		v, ok := into[name]
		if !ok {
			into[name] = q.DeepCopy()
			continue
		}
		v.Add(q)
		into[name] = v
	}
}

func isPodLevelResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory
}
