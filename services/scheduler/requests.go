package scheduler

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Resources is an amount of every resource the scheduler accounts for, in the
// units Kubernetes compares them in: millicores, bytes, and plain counts for
// extended resources (nvidia.com/gpu), hugepages (bytes) and anything else.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// Scalar holds every other resource, sorted by name, without zero amounts.
	Scalar []ScalarResource
}

// ScalarResource is an amount of one resource other than cpu, memory and
// ephemeral-storage.
type ScalarResource struct {
	Name  corev1.ResourceName
	Value int64
}

// Non-zero defaults Kubernetes uses when it scores a container that requests no
// cpu or memory, so that many best-effort pods do not all pile onto one node.
const (
	defaultMilliCPURequest = 100
	defaultMemoryRequest   = 200 * 1024 * 1024
)

// scalar returns the amount of name, 0 when absent.
func (r *Resources) scalar(name corev1.ResourceName) int64 {
	for _, s := range r.Scalar {
		if s.Name == name {
			return s.Value
		}
	}
	return 0
}

func resourcesFromList(list corev1.ResourceList) Resources {
	var r Resources
	for name, q := range list {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage = q.Value()
		case corev1.ResourcePods:
			// Counted separately: a pod uses one.
		default:
			if v := q.Value(); v != 0 {
				r.Scalar = append(r.Scalar, ScalarResource{Name: name, Value: v})
			}
		}
	}
	slices.SortFunc(r.Scalar, func(a, b ScalarResource) int { return strings.Compare(string(a.Name), string(b.Name)) })
	return r
}

// podRequests returns what a pod requests, computed as Kubernetes computes it:
// the larger of the sum of its containers (plus its restartable init containers,
// the sidecars) and the largest init container (plus the sidecars started before
// it); pod-level requests replace the containers' for the resources they name;
// the pod's overhead is added. A container that limits a resource without
// requesting it requests its limit. With nonZero, a container that does not
// request cpu or memory counts as requesting the scoring defaults.
func podRequests(pod *corev1.Pod, nonZero bool) corev1.ResourceList {
	reqs := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		addList(reqs, containerRequests(&pod.Spec.Containers[i], nonZero))
	}
	sidecars := corev1.ResourceList{}
	initMax := corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cr := containerRequests(c, nonZero)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addList(sidecars, cr)
			cr = sidecars
		} else {
			addList(cr, sidecars)
		}
		maxList(initMax, cr)
	}
	addList(reqs, sidecars)
	maxList(reqs, initMax)

	if pod.Spec.Resources != nil {
		for name, q := range withLimitsAsRequests(pod.Spec.Resources) {
			if isPodLevelResource(name) {
				reqs[name] = q.DeepCopy()
			}
		}
	}
	addList(reqs, pod.Spec.Overhead)
	return reqs
}

func isPodLevelResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory ||
		strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

func containerRequests(c *corev1.Container, nonZero bool) corev1.ResourceList {
	reqs := withLimitsAsRequests(&c.Resources)
	if nonZero {
		if _, ok := reqs[corev1.ResourceCPU]; !ok {
			reqs[corev1.ResourceCPU] = *resource.NewMilliQuantity(defaultMilliCPURequest, resource.DecimalSI)
		}
		if _, ok := reqs[corev1.ResourceMemory]; !ok {
			reqs[corev1.ResourceMemory] = *resource.NewQuantity(defaultMemoryRequest, resource.BinarySI)
		}
	}
	return reqs
}

// withLimitsAsRequests returns a copy of the requests with every limited but
// unrequested resource requesting its limit, as Kubernetes' defaulting does.
func withLimitsAsRequests(r *corev1.ResourceRequirements) corev1.ResourceList {
	out := make(corev1.ResourceList, len(r.Requests)+2)
	for name, q := range r.Requests {
		out[name] = q.DeepCopy()
	}
	for name, q := range r.Limits {
		if _, ok := out[name]; !ok {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

func addList(dst, src corev1.ResourceList) {
	for name, q := range src {
		cur, ok := dst[name]
		if !ok {
			dst[name] = q.DeepCopy()
			continue
		}
		cur.Add(q)
		dst[name] = cur
	}
}

func maxList(dst, src corev1.ResourceList) {
	for name, q := range src {
		if cur, ok := dst[name]; !ok || q.Cmp(cur) > 0 {
			dst[name] = q.DeepCopy()
		}
	}
}
