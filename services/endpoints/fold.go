// Package endpoints is the endpoints controller, after Kubernetes' EndpointSlice
// and Endpoints controllers: for every Service with a selector it keeps the
// EndpointSlices (discovery.k8s.io/v1) and the v1 Endpoints of the pods the
// selector matches, with their readiness, and gives a LoadBalancer Service its
// nodes' addresses as its ingress, as k3s's service load balancer does. A
// Service without a selector keeps the endpoints people write by hand.
package endpoints

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Projection folds Services, pods (with the status their nodes report),
// EndpointSlices, Endpoints and nodes' addresses, and the touch log of the
// Services whose endpoints an event may have changed.
//
// Keys (owner: "<namespace>\x00<service name>"):
//
//	s\x00<owner>                     -> the Service (object.Stored)
//	q\x00<owner>                     -> its selector (JSON), when it has one
//	b\x00<owner>                     -> "" (a LoadBalancer Service)
//	e\x00<owner>                     -> the event that last touched it, without payload
//	p\x00<namespace>\x00<name>       -> a pod (object.Stored)
//	l\x00<namespace>\x00<name>       -> an EndpointSlice (object.Stored)
//	i\x00<owner>\x00<slice name>     -> "" (the slice names the Service in kubernetes.io/service-name)
//	d\x00<namespace>\x00<name>       -> an Endpoints (object.Stored)
//	w\x00<namespace>\x00<name>       -> "" (the Endpoints was last written by this controller)
//	x\x00<kind>\x00<namespace>\x00<name> -> sequence of the deletion of an EndpointSlice or Endpoints
//	n\x00<node>                      -> the node's InternalIP
//
// and the touch log (t\x00, c\x00).
func Projection() projections.Projection {
	return projections.Projection{
		Name: "endpoints", Version: 1, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{
			events.KindSubjects("Service", "", false),
			events.KindSubjects("Pod", "", false),
			events.KindSubjects("EndpointSlice", "", false),
			events.KindSubjects("Endpoints", "", false),
			events.KindSubjects("Node", "", true),
			events.Prefix + ".node.*.pod.>",
		},
	}
}

var (
	serviceKind, _   = object.ByKind("Service")
	podKind, _       = object.ByKind("Pod")
	sliceKind, _     = object.ByKind("EndpointSlice")
	endpointsKind, _ = object.ByKind("Endpoints")
	nodeKind, _      = object.ByKind("Node")
)

// owner is the key of the Service namespace/name.
func owner(ns, name string) string { return ns + "\x00" + name }

func key(prefix, ns, name string) []byte { return []byte(prefix + "\x00" + ns + "\x00" + name) }

func tombstoneKey(kind, ns, name string) []byte {
	return []byte("x\x00" + kind + "\x00" + ns + "\x00" + name)
}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	switch ev.Object.Kind {
	case serviceKind.Kind:
		return foldService(s, ev)
	case podKind.Kind:
		return foldPod(s, ev)
	case sliceKind.Kind:
		return foldSlice(s, ev)
	case endpointsKind.Kind:
		return foldEndpoints(s, ev)
	case nodeKind.Kind:
		return foldNode(s, ev)
	}
	return fmt.Errorf("%w: the endpoints projection does not read kind %q", object.ErrFold, ev.Object.Kind)
}

// touch records that ev touched the Service o, and keeps ev as its cause
// unless this controller appended it.
func touch(s projections.State, o string, ev *events.Event) error {
	if err := reconcile.Touch(s, o, ev.Seq); err != nil {
		return err
	}
	if ev.Actor == Actor {
		return nil
	}
	cause := *ev
	cause.Payload, cause.Decoded = nil, nil
	data, err := json.Marshal(cause)
	if err != nil {
		return err
	}
	return s.Set([]byte("e\x00"+o), data)
}

// foldObject folds ev into the object stored under k and returns it before and
// after (nil: absent).
func foldObject(s projections.State, kind *object.Kind, k []byte, ev *events.Event) (prev, next *object.Stored, err error) {
	if prev, err = reconcile.Load(s, kind, k); err != nil {
		return nil, nil, err
	}
	if prev == nil && ev.Object.Node != "" {
		return nil, nil, nil // a node's report about an object that no longer exists
	}
	if next, err = object.Fold(prev, ev); err != nil {
		return nil, nil, err
	}
	if next == nil {
		return prev, nil, s.Delete(k)
	}
	return prev, next, reconcile.Save(s, k, next)
}

func foldService(s projections.State, ev *events.Event) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	o := owner(ns, name)
	_, next, err := foldObject(s, serviceKind, []byte("s\x00"+o), ev)
	if err != nil {
		return err
	}
	var selector map[string]string
	lb := false
	if next != nil {
		svc := next.Object.(*corev1.Service)
		selector, lb = svc.Spec.Selector, svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	}
	if len(selector) > 0 {
		data, _ := json.Marshal(selector)
		err = s.Set([]byte("q\x00"+o), data)
	} else {
		err = s.Delete([]byte("q\x00" + o))
	}
	if err != nil {
		return err
	}
	if lb {
		err = s.Set([]byte("b\x00"+o), []byte{})
	} else {
		err = s.Delete([]byte("b\x00" + o))
	}
	if err != nil {
		return err
	}
	return touch(s, o, ev)
}

// podView is what of a pod can change its endpoints.
type podView struct {
	Labels      map[string]string
	IP, Node    string
	Phase       corev1.PodPhase
	Ready       bool
	Terminating bool
	Hostname    string
	Subdomain   string
	Ports       []corev1.ContainerPort
}

func viewOf(st *object.Stored) *podView {
	if st == nil {
		return nil
	}
	p := st.Object.(*corev1.Pod)
	v := &podView{Labels: p.Labels, IP: p.Status.PodIP, Node: p.Spec.NodeName, Phase: p.Status.Phase, Ready: podReady(p),
		Terminating: p.DeletionTimestamp != nil, Hostname: p.Spec.Hostname, Subdomain: p.Spec.Subdomain}
	for _, c := range p.Spec.Containers {
		v.Ports = append(v.Ports, c.Ports...)
	}
	return v
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// foldPod stores the pod and, when what its endpoints show changed, touches
// the Services of its namespace whose selector matches it before or after.
func foldPod(s projections.State, ev *events.Event) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	prev, next, err := foldObject(s, podKind, key("p", ns, name), ev)
	if err != nil {
		return err
	}
	before, after := viewOf(prev), viewOf(next)
	if reflect.DeepEqual(before, after) {
		return nil
	}
	prefix := []byte("q\x00" + ns + "\x00")
	var touched []string
	var ferr error
	err = s.Scan(prefix, false, func(k, v []byte) bool {
		var sel map[string]string
		if ferr = json.Unmarshal(v, &sel); ferr != nil {
			return false
		}
		selector := labels.SelectorFromSet(sel)
		if before != nil && selector.Matches(labels.Set(before.Labels)) || after != nil && selector.Matches(labels.Set(after.Labels)) {
			touched = append(touched, string(k[2:]))
		}
		return true
	})
	if err = firstError(err, ferr); err != nil {
		return err
	}
	for _, o := range touched {
		if err := touch(s, o, ev); err != nil {
			return err
		}
	}
	return nil
}

func firstError(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func serviceOfSlice(st *object.Stored) string {
	if st == nil {
		return ""
	}
	return st.Object.GetLabels()[discoveryv1.LabelServiceName]
}

// foldSlice stores the slice, indexes it by the Service it names, and touches
// that Service.
func foldSlice(s projections.State, ev *events.Event) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	prev, next, err := foldObject(s, sliceKind, key("l", ns, name), ev)
	if err != nil {
		return err
	}
	if err := tombstone(s, "EndpointSlice", ev, next); err != nil {
		return err
	}
	was, is := serviceOfSlice(prev), serviceOfSlice(next)
	if was != "" && was != is {
		if err := s.Delete([]byte("i\x00" + owner(ns, was) + "\x00" + name)); err != nil {
			return err
		}
	}
	if is != "" {
		if err := s.Set([]byte("i\x00"+owner(ns, is)+"\x00"+name), []byte{}); err != nil {
			return err
		}
	}
	for _, svc := range slices.Compact([]string{was, is}) {
		if svc != "" {
			if err := touch(s, owner(ns, svc), ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// tombstone keeps the sequence of an object's deletion, the version a
// writer names to create it again.
func tombstone(s projections.State, kind string, ev *events.Event, next *object.Stored) error {
	k := tombstoneKey(kind, ev.Object.Namespace, ev.Object.Name)
	if next == nil {
		return s.Set(k, []byte(strconv.FormatUint(ev.Seq, 10)))
	}
	return s.Delete(k)
}

// foldEndpoints stores the Endpoints, whether this controller wrote it last,
// and touches the Service of its name.
func foldEndpoints(s projections.State, ev *events.Event) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	_, next, err := foldObject(s, endpointsKind, key("d", ns, name), ev)
	if err != nil {
		return err
	}
	if err := tombstone(s, "Endpoints", ev, next); err != nil {
		return err
	}
	if next != nil && ev.Actor == Actor {
		err = s.Set(key("w", ns, name), []byte{})
	} else {
		err = s.Delete(key("w", ns, name))
	}
	if err != nil {
		return err
	}
	return touch(s, owner(ns, name), ev)
}

// foldNode keeps a node's InternalIP and, when it changed, touches every
// LoadBalancer Service (their ingress is the nodes' addresses).
func foldNode(s projections.State, ev *events.Event) error {
	k := []byte("n\x00" + ev.Object.Name)
	prevIP, _, err := s.Get(k)
	if err != nil {
		return err
	}
	prevIP = slices.Clone(prevIP)
	nk := []byte("o\x00" + ev.Object.Name) // the node object itself, for the fold
	_, next, err := foldObject(s, nodeKind, nk, ev)
	if err != nil {
		return err
	}
	ip := ""
	if next != nil {
		for _, a := range next.Object.(*corev1.Node).Status.Addresses {
			if a.Type == corev1.NodeInternalIP && ip == "" {
				ip = a.Address
			}
		}
	}
	if ip == string(prevIP) {
		return nil
	}
	if ip == "" {
		err = s.Delete(k)
	} else {
		err = s.Set(k, []byte(ip))
	}
	if err != nil {
		return err
	}
	var lbs []string
	if err := s.Scan([]byte("b\x00"), false, func(k, _ []byte) bool {
		lbs = append(lbs, string(k[2:]))
		return true
	}); err != nil {
		return err
	}
	for _, o := range lbs {
		if err := touch(s, o, ev); err != nil {
			return err
		}
	}
	return nil
}

// nodeIPs are the nodes' InternalIPs, sorted and without duplicates.
func nodeIPs(rd projections.Reader) ([]string, error) {
	set := map[string]bool{}
	err := rd.Scan([]byte("n\x00"), false, func(_, v []byte) bool {
		set[string(v)] = true
		return true
	})
	ips := slices.Sorted(maps.Keys(set))
	return ips, err
}

// splitOwner is the namespace and name of an owner key.
func splitOwner(o string) (ns, name string) {
	ns, name, _ = strings.Cut(o, "\x00")
	return ns, name
}
