package endpoints

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Actor is the identity the controller appends as.
const Actor = "system:endpoints-controller"

// ManagedBy is the endpointslice.kubernetes.io/managed-by label of the slices
// it keeps; slices with another value are someone else's.
const ManagedBy = "endpointslice-controller.wake.run"

// MaxEndpointsPerSlice is how many endpoints one EndpointSlice holds
// (Kubernetes' --max-endpoints-per-slice default); more take more slices.
const MaxEndpointsPerSlice = 100

// MaxEndpointsAddresses is how many addresses an Endpoints holds, as in
// Kubernetes: beyond it the Endpoints is truncated and annotated
// endpoints.kubernetes.io/over-capacity: truncated (the slices hold all).
const MaxEndpointsAddresses = 1000

// headlessLabel marks the endpoints of a headless Service, as Kubernetes does.
const headlessLabel = "service.kubernetes.io/headless"

// Input is what the controller knows of one Service, by its namespace and name.
type Input struct {
	Namespace, Name string
	// Service is nil when it does not exist (any more).
	Service *object.Stored
	// Cause is the event that last touched the Service's endpoints.
	Cause events.Event
	// Pods are the pods of the namespace.
	Pods []*corev1.Pod
	// Slices are the EndpointSlices labelled with the Service's name.
	Slices []*object.Stored
	// Endpoints is the v1 Endpoints of the Service's name (nil: none), and
	// EndpointsOurs whether this controller wrote it last.
	Endpoints     *object.Stored
	EndpointsOurs bool
	// Deleted is the version of the deletion of an EndpointSlice or Endpoints
	// (kind "EndpointSlice" or "Endpoints") in the namespace (0: never existed).
	Deleted func(kind, name string) uint64
	// NodeIPs are the nodes' InternalIPs, sorted.
	NodeIPs []string
}

// Decide returns the appends that make the Service's endpoints what its pods
// are: for a Service with a selector (not ExternalName), EndpointSlices (one
// per distinct set of resolved ports; one without ports or endpoints when no
// pod matches) and the v1 Endpoints; for a Service without one, or gone, the
// deletion of what this controller made. A LoadBalancer Service's
// status.loadBalancer.ingress is the nodes' addresses. It is pure.
//
// A pod is an endpoint once it has an IP and while it has not terminated. In
// a slice it is ready when Ready and not terminating (or always, with
// publishNotReadyAddresses), serving when Ready, terminating once deleting. In
// the Endpoints it is an address when ready, a notReadyAddress when not, and
// absent while terminating (unless publishNotReadyAddresses). A named
// targetPort is looked up in each pod's container ports (name and protocol);
// a pod without it is no endpoint of that port.
func Decide(in Input) []reconcile.Action {
	d := &decider{in: in}
	var svc *corev1.Service
	if in.Service != nil {
		svc = in.Service.Object.(*corev1.Service)
	}
	if svc == nil || len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		d.cleanUp()
	} else {
		d.reconcile(svc)
	}
	if svc != nil {
		d.loadBalancer(svc)
	}
	return d.out
}

type decider struct {
	in  Input
	out []reconcile.Action
}

func (d *decider) add(kind *object.Kind, verb string, ref events.Ref, expected uint64, reason string, payload any) {
	d.out = append(d.out, reconcile.NewAction(Actor, d.in.Cause, object.EventType(kind, verb), ref, expected, reason, payload))
}

func (d *decider) ref(kind, name string) events.Ref {
	return events.Ref{Kind: kind, Namespace: d.in.Namespace, Name: name}
}

// cleanUp deletes the slices and the Endpoints this controller made.
func (d *decider) cleanUp() {
	for _, st := range d.in.Slices {
		if st.Object.GetLabels()[discoveryv1.LabelManagedBy] != ManagedBy {
			continue
		}
		d.add(sliceKind, object.Deleted, d.ref(sliceKind.Kind, st.Object.GetName()), st.Version,
			fmt.Sprintf("service %s has no selector or is gone", d.in.Name), &object.Deletion{UID: string(st.Object.GetUID())})
	}
	if ep := d.in.Endpoints; ep != nil && d.in.EndpointsOurs {
		d.add(endpointsKind, object.Deleted, d.ref(endpointsKind.Kind, d.in.Name), ep.Version,
			fmt.Sprintf("service %s has no selector or is gone", d.in.Name), &object.Deletion{UID: string(ep.Object.GetUID())})
	}
}

// endpoint is one pod as an endpoint of the Service, with its ports resolved.
type endpoint struct {
	pod                         *corev1.Pod
	ip                          netip.Addr
	ready, serving, terminating bool
	ports                       []discoveryv1.EndpointPort
}

// portsKey identifies a set of resolved ports: the pods that share it share
// a slice and an Endpoints subset.
func portsKey(ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%s/%d,", *p.Name, *p.Protocol, *p.Port)
	}
	return b.String()
}

func (d *decider) endpoints(svc *corev1.Service) map[string][]endpoint {
	selector := labels.SelectorFromSet(svc.Spec.Selector)
	groups := map[string][]endpoint{}
	for _, pod := range d.in.Pods {
		if !selector.Matches(labels.Set(pod.Labels)) || pod.Status.PodIP == "" ||
			pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		ip, err := netip.ParseAddr(pod.Status.PodIP)
		if err != nil || !ip.Is4() {
			continue
		}
		terminating := pod.DeletionTimestamp != nil
		e := endpoint{pod: pod, ip: ip, serving: podReady(pod), terminating: terminating}
		e.ready = svc.Spec.PublishNotReadyAddresses || e.serving && !terminating
		for _, sp := range svc.Spec.Ports {
			port, ok := targetPort(pod, sp)
			if !ok {
				continue
			}
			e.ports = append(e.ports, discoveryv1.EndpointPort{Name: ptr(sp.Name), Protocol: ptr(sp.Protocol), Port: ptr(port), AppProtocol: sp.AppProtocol})
		}
		if len(svc.Spec.Ports) > 0 && len(e.ports) == 0 {
			continue // the pod serves none of the Service's ports
		}
		k := portsKey(e.ports)
		groups[k] = append(groups[k], e)
	}
	for _, g := range groups {
		slices.SortFunc(g, func(a, b endpoint) int { return cmp.Or(a.ip.Compare(b.ip), strings.Compare(a.pod.Name, b.pod.Name)) })
	}
	return groups
}

// targetPort resolves a Service port's targetPort for pod: a number as is
// (the port when unset), a name through the pod's container ports.
func targetPort(pod *corev1.Pod, sp corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	switch {
	case tp.Type == intstr.String && tp.StrVal != "":
		for _, c := range slices.Concat(pod.Spec.Containers, pod.Spec.InitContainers) {
			for _, cp := range c.Ports {
				proto := cmp.Or(cp.Protocol, corev1.ProtocolTCP)
				if cp.Name == tp.StrVal && proto == cmp.Or(sp.Protocol, corev1.ProtocolTCP) {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	case tp.Type == intstr.Int && tp.IntVal != 0:
		return tp.IntVal, true
	}
	return sp.Port, true
}

func ptr[T any](v T) *T { return &v }

// sliceName is the name of the Service's slice for a set of ports: derived,
// so a decision made again names the same slice.
func sliceName(svc, key string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // Kubernetes' generateName alphabet
	h := fnv.New64a()
	h.Write([]byte(svc + "\x00" + key))
	sum := h.Sum64()
	suffix := make([]byte, 5)
	for i := range suffix {
		suffix[i] = alphabet[sum%uint64(len(alphabet))]
		sum /= uint64(len(alphabet))
	}
	base := svc
	if len(base) > 57 {
		base = base[:57]
	}
	return base + "-" + string(suffix)
}

func (d *decider) reconcile(svc *corev1.Service) {
	groups := d.endpoints(svc)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range groups {
			if !yield(k) {
				return
			}
		}
	})
	if len(keys) == 0 {
		keys = []string{""} // a slice without ports or endpoints says the Service has none
	}
	have := map[string]*object.Stored{}
	var haveNames []string
	for _, st := range d.in.Slices {
		if st.Object.GetLabels()[discoveryv1.LabelManagedBy] == ManagedBy {
			have[st.Object.GetName()] = st
			haveNames = append(haveNames, st.Object.GetName())
		}
	}
	slices.Sort(haveNames)
	// A set of ports keeps the slice of its derived name; the others take
	// over the slices left, so a Service's slice keeps its name while its
	// pods' ports change.
	want := map[string]*discoveryv1.EndpointSlice{}
	var unnamed []*discoveryv1.EndpointSlice
	for _, k := range keys {
		g := groups[k]
		for i := 0; i == 0 || i*MaxEndpointsPerSlice < len(g); i++ {
			chunk, name := g[i*MaxEndpointsPerSlice:min(len(g), (i+1)*MaxEndpointsPerSlice)], k
			if i > 0 {
				name = fmt.Sprintf("%s#%d", k, i)
			}
			s := d.slice(svc, name, chunk)
			if have[s.Name] != nil {
				want[s.Name] = s
			} else {
				unnamed = append(unnamed, s)
			}
		}
	}
	for _, s := range unnamed {
		for _, n := range haveNames {
			if want[n] == nil {
				s.Name = n
				break
			}
		}
		want[s.Name] = s
	}
	ready, notReady := 0, 0
	for _, g := range groups {
		for _, e := range g {
			if e.ready {
				ready++
			} else {
				notReady++
			}
		}
	}
	reason := fmt.Sprintf("endpoints of service %s: %d ready, %d not ready", svc.Name, ready, notReady)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range want {
			if !yield(n) {
				return
			}
		}
	}) {
		d.putSlice(want[name], have[name], reason)
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range have {
			if !yield(n) {
				return
			}
		}
	}) {
		if want[name] == nil {
			st := have[name]
			d.add(sliceKind, object.Deleted, d.ref(sliceKind.Kind, name), st.Version, reason, &object.Deletion{UID: string(st.Object.GetUID())})
		}
	}
	d.putEndpoints(svc, keys, groups, reason)
}

func endpointLabels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		l[k] = v
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[headlessLabel] = ""
	}
	return l
}

func (d *decider) slice(svc *corev1.Service, key string, group []endpoint) *discoveryv1.EndpointSlice {
	l := endpointLabels(svc)
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = ManagedBy
	s := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{Name: sliceName(svc.Name, key), Namespace: svc.Namespace, Labels: l,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true)}}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	for i, e := range group {
		if i == 0 {
			s.Ports = e.ports
		}
		ep := discoveryv1.Endpoint{
			Addresses:  []string{e.ip.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(e.ready), Serving: ptr(e.serving), Terminating: ptr(e.terminating)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: e.pod.Namespace, Name: e.pod.Name, UID: e.pod.UID},
		}
		if e.pod.Spec.NodeName != "" {
			ep.NodeName = ptr(e.pod.Spec.NodeName)
		}
		if h := hostname(e.pod, svc); h != "" {
			ep.Hostname = ptr(h)
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
	return s
}

// hostname is the pod's DNS hostname under the Service: its spec.hostname
// when its subdomain is the Service (a headless Service's pods, as a
// StatefulSet makes them).
func hostname(pod *corev1.Pod, svc *corev1.Service) string {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
		return pod.Spec.Hostname
	}
	return ""
}

// putSlice creates want, or updates have to it when what it says differs.
func (d *decider) putSlice(want *discoveryv1.EndpointSlice, have *object.Stored, reason string) {
	if have == nil {
		want.UID = reconcile.DerivedUID(d.in.Cause.ID + "/" + d.in.Namespace + "/" + want.Name)
		raw, _ := json.Marshal(want)
		d.add(sliceKind, object.Created, d.ref(sliceKind.Kind, want.Name), d.in.Deleted(sliceKind.Kind, want.Name), reason, &object.Change{Object: raw})
		return
	}
	cur := have.Object.(*discoveryv1.EndpointSlice)
	if equality.Semantic.DeepEqual(cur.Labels, want.Labels) && equality.Semantic.DeepEqual(cur.OwnerReferences, want.OwnerReferences) &&
		cur.AddressType == want.AddressType && equality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) &&
		equality.Semantic.DeepEqual(cur.Ports, want.Ports) {
		return
	}
	next := cur.DeepCopy()
	next.Labels, next.OwnerReferences, next.AddressType, next.Endpoints, next.Ports = want.Labels, want.OwnerReferences, want.AddressType, want.Endpoints, want.Ports
	raw, _ := json.Marshal(next)
	d.add(sliceKind, object.Updated, d.ref(sliceKind.Kind, want.Name), have.Version, reason, &object.Change{Object: raw})
}

func (d *decider) putEndpoints(svc *corev1.Service, keys []string, groups map[string][]endpoint, reason string) {
	want := &corev1.Endpoints{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Endpoints"},
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: endpointLabels(svc)},
	}
	for _, k := range keys {
		var ss corev1.EndpointSubset
		for _, e := range groups[k] {
			if e.terminating && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			a := corev1.EndpointAddress{IP: e.ip.String(), Hostname: hostname(e.pod, svc),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: e.pod.Namespace, Name: e.pod.Name, UID: e.pod.UID}}
			if e.pod.Spec.NodeName != "" {
				a.NodeName = ptr(e.pod.Spec.NodeName)
			}
			if e.ready {
				ss.Addresses = append(ss.Addresses, a)
			} else {
				ss.NotReadyAddresses = append(ss.NotReadyAddresses, a)
			}
			if ss.Ports == nil {
				for _, p := range e.ports {
					ss.Ports = append(ss.Ports, corev1.EndpointPort{Name: *p.Name, Port: *p.Port, Protocol: *p.Protocol, AppProtocol: p.AppProtocol})
				}
			}
		}
		if len(ss.Addresses)+len(ss.NotReadyAddresses) > 0 {
			want.Subsets = append(want.Subsets, ss)
		}
	}
	truncate(want)
	have := d.in.Endpoints
	if have == nil {
		want.UID = reconcile.DerivedUID(d.in.Cause.ID + "/" + d.in.Namespace + "/endpoints/" + want.Name)
		raw, _ := json.Marshal(want)
		d.add(endpointsKind, object.Created, d.ref(endpointsKind.Kind, want.Name), d.in.Deleted(endpointsKind.Kind, want.Name), reason, &object.Change{Object: raw})
		return
	}
	cur := have.Object.(*corev1.Endpoints)
	if d.in.EndpointsOurs && equality.Semantic.DeepEqual(cur.Labels, want.Labels) && equality.Semantic.DeepEqual(cur.Subsets, want.Subsets) &&
		cur.Annotations[corev1.EndpointsOverCapacity] == want.Annotations[corev1.EndpointsOverCapacity] {
		return
	}
	next := cur.DeepCopy()
	next.Labels, next.Subsets = want.Labels, want.Subsets
	if v, ok := want.Annotations[corev1.EndpointsOverCapacity]; ok {
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, corev1.EndpointsOverCapacity, v)
	} else {
		delete(next.Annotations, corev1.EndpointsOverCapacity)
	}
	raw, _ := json.Marshal(next)
	d.add(endpointsKind, object.Updated, d.ref(endpointsKind.Kind, want.Name), have.Version, reason, &object.Change{Object: raw})
}

// truncate keeps the first MaxEndpointsAddresses addresses of ep, ready
// before not ready, and says so in the over-capacity annotation.
func truncate(ep *corev1.Endpoints) {
	total := 0
	for _, ss := range ep.Subsets {
		total += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	if total <= MaxEndpointsAddresses {
		return
	}
	left := MaxEndpointsAddresses
	take := func(as []corev1.EndpointAddress) []corev1.EndpointAddress {
		n := min(left, len(as))
		left -= n
		return as[:n]
	}
	for i := range ep.Subsets {
		ep.Subsets[i].Addresses = take(ep.Subsets[i].Addresses)
	}
	for i := range ep.Subsets {
		ep.Subsets[i].NotReadyAddresses = take(ep.Subsets[i].NotReadyAddresses)
	}
	ep.Subsets = slices.DeleteFunc(ep.Subsets, func(ss corev1.EndpointSubset) bool {
		return len(ss.Addresses)+len(ss.NotReadyAddresses) == 0
	})
	ep.Annotations = map[string]string{corev1.EndpointsOverCapacity: "truncated"}
}

// loadBalancer gives a LoadBalancer Service the nodes' addresses as its
// ingress (k3s's service load balancer: every node answers on the Service's
// ports), and clears the ingress of a Service that is no LoadBalancer any more.
func (d *decider) loadBalancer(svc *corev1.Service) {
	var want []corev1.LoadBalancerIngress
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ip := range d.in.NodeIPs {
			want = append(want, corev1.LoadBalancerIngress{IP: ip, IPMode: ptr(corev1.LoadBalancerIPModeVIP)})
		}
	}
	if equality.Semantic.DeepEqual(svc.Status.LoadBalancer.Ingress, want) {
		return
	}
	status := svc.Status.DeepCopy()
	status.LoadBalancer.Ingress = want
	raw, _ := json.Marshal(status)
	reason := fmt.Sprintf("load balancer ingress of service %s: the nodes' addresses %s", svc.Name, strings.Join(d.in.NodeIPs, ","))
	d.add(serviceKind, object.Status, d.ref(serviceKind.Kind, svc.Name), d.in.Service.Version, reason, &object.StatusChange{Status: raw})
}
