package printer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Related holds what a description mentions besides the object itself; the
// caller fetches it (see RelatedQuery).
type Related struct {
	// ReplicaSets are the ReplicaSets of a Deployment's namespace that match its
	// selector; Describe keeps those the Deployment controls.
	ReplicaSets []*appsv1.ReplicaSet
	// Pods are the pods bound to a Node, in any phase; Describe keeps those not
	// terminated. Nil means they are unknown, and the sections that need them are
	// left out.
	Pods []*corev1.Pod
	// Endpoints and Services are those of an Ingress's namespace: Describe
	// lists each backend's endpoints, as kubectl does. Nil Endpoints means
	// they are unknown, and backends are shown without them.
	Endpoints []*corev1.Endpoints
	Services  []*corev1.Service
	// EndpointSlices are a Service's slices (labelled with its name). Nil
	// means they are unknown.
	EndpointSlices []*discoveryv1.EndpointSlice
}

// RelatedQuery says what Related needs for obj: the kind (a resource name
// such as "replicasets"), the namespace (empty for all), the label selector,
// and whether pods must be kept to those bound to obj's node (NodeName).
// Kind is empty when obj's description needs nothing else.
type RelatedQuery struct {
	Kind, Namespace, Selector, NodeName string
}

// RelatedFor returns what to fetch to describe obj.
func RelatedFor(obj any) RelatedQuery {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		sel, err := metav1.LabelSelectorAsSelector(o.Spec.Selector)
		if err != nil {
			return RelatedQuery{}
		}
		return RelatedQuery{Kind: "replicasets", Namespace: o.Namespace, Selector: sel.String()}
	case *corev1.Node:
		return RelatedQuery{Kind: "pods", NodeName: o.Name}
	case *networkingv1.Ingress:
		return RelatedQuery{Kind: "endpoints", Namespace: o.Namespace}
	case *corev1.Service:
		return RelatedQuery{Kind: "endpointslices", Namespace: o.Namespace, Selector: discoveryv1.LabelServiceName + "=" + o.Name}
	}
	return RelatedQuery{}
}

// deploymentReplicaSets writes kubectl's OldReplicaSets and NewReplicaSet
// lines: the new one has the Deployment's pod template (but for the hash
// label; the oldest when several do), the old ones are every other it
// controls, oldest first.
func (d describer) deploymentReplicaSets(dep *appsv1.Deployment) {
	var owned []*appsv1.ReplicaSet
	for _, rs := range d.rel.ReplicaSets {
		if metav1.IsControlledBy(rs, dep) {
			owned = append(owned, rs)
		}
	}
	if len(owned) == 0 {
		return
	}
	sort.SliceStable(owned, func(i, j int) bool {
		a, b := owned[i], owned[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	var old, cur []*appsv1.ReplicaSet
	for _, rs := range owned {
		if len(cur) == 0 && templatesEqualIgnoringHash(&rs.Spec.Template, &dep.Spec.Template) {
			cur = append(cur, rs)
			continue
		}
		old = append(old, rs)
	}
	d.w.write(level0, "OldReplicaSets:\t%s\n", replicaSetList(old))
	d.w.write(level0, "NewReplicaSet:\t%s\n", replicaSetList(cur))
}

func templatesEqualIgnoringHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	for _, t := range []*corev1.PodTemplateSpec{a, b} {
		delete(t.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		if len(t.Labels) == 0 {
			t.Labels = nil
		}
	}
	return equality.Semantic.DeepEqual(a, b)
}

// replicaSetList is "name (current/desired replicas created), ..." or <none>.
func replicaSetList(rss []*appsv1.ReplicaSet) string {
	if len(rss) == 0 {
		return "<none>"
	}
	parts := make([]string, 0, len(rss))
	for _, rs := range rss {
		parts = append(parts, fmt.Sprintf("%s (%d/%d replicas created)", rs.Name, rs.Status.Replicas, replicasOrDefault(rs.Spec.Replicas)))
	}
	return strings.Join(parts, ", ")
}

// nodeResources writes kubectl's Non-terminated Pods and Allocated resources
// sections, with percentages of the node's allocatable (its capacity when it
// has none).
func (d describer) nodeResources(node *corev1.Node) {
	w := d.w
	var pods []*corev1.Pod
	for _, p := range d.rel.Pods {
		if p.Spec.NodeName == node.Name && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			pods = append(pods, p)
		}
	}
	sort.SliceStable(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	allocatable := node.Status.Capacity
	if len(node.Status.Allocatable) > 0 {
		allocatable = node.Status.Allocatable
	}
	w.write(level0, "Non-terminated Pods:\t(%d in total)\n", len(pods))
	w.write(level1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
	w.write(level1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
	reqs, limits := corev1.ResourceList{}, corev1.ResourceList{}
	for _, p := range pods {
		req, lim := object.PodRequests(p), object.PodLimits(p)
		addQuantities(reqs, req)
		addQuantities(limits, lim)
		w.write(level1, "%s\t%s\t\t%s\t%s\t%s\t%s\t%s\n", p.Namespace, p.Name,
			share(req, allocatable, corev1.ResourceCPU), share(lim, allocatable, corev1.ResourceCPU),
			share(req, allocatable, corev1.ResourceMemory), share(lim, allocatable, corev1.ResourceMemory),
			Age(p.CreationTimestamp.Time, d.now))
	}
	w.write(level0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
	w.write(level1, "Resource\tRequests\tLimits\n")
	w.write(level1, "--------\t--------\t------\n")
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		w.write(level1, "%s\t%s\t%s\n", name, share(reqs, allocatable, name), share(limits, allocatable, name))
	}
	var hugePages, extended []string
	for name := range allocatable {
		switch {
		case strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
			hugePages = append(hugePages, string(name))
		case !isStandardResource(name):
			extended = append(extended, string(name))
		}
	}
	sort.Strings(hugePages)
	sort.Strings(extended)
	for _, name := range hugePages {
		n := corev1.ResourceName(name)
		w.write(level1, "%s\t%s\t%s\n", name, share(reqs, allocatable, n), share(limits, allocatable, n))
	}
	for _, name := range extended {
		req, lim := reqs[corev1.ResourceName(name)], limits[corev1.ResourceName(name)]
		w.write(level1, "%s\t%s\t%s\n", name, req.String(), lim.String())
	}
}

// isStandardResource is kubectl's IsStandardContainerResourceName, plus pods.
func isStandardResource(name corev1.ResourceName) bool {
	switch name {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourceStorage, corev1.ResourcePods:
		return true
	}
	return false
}

// share is "quantity (percent%)" of allocatable, as kubectl prints it: cpu in
// millicores, the rest in units, the percentage rounded down, 0% when nothing
// is allocatable.
func share(l, allocatable corev1.ResourceList, name corev1.ResourceName) string {
	q, total := l[name], allocatable[name]
	have, of := q.Value(), total.Value()
	if name == corev1.ResourceCPU {
		have, of = q.MilliValue(), total.MilliValue()
	}
	percent := int64(0)
	if of != 0 {
		percent = int64(float64(have) / float64(of) * 100)
	}
	return fmt.Sprintf("%s (%d%%)", q.String(), percent)
}

func addQuantities(into, l corev1.ResourceList) {
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
