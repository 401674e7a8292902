package ingress

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	nodeingress "github.com/wake-run/wake/node/ingress"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Ingress is an Ingress with its subject's version, the event that last
// changed it, and the reason of the controller's newest event on it.
type Ingress struct {
	Ing     *networkingv1.Ingress
	Version uint64
	Cause   events.Event
	Note    string
}

// Node is a registered node.
type Node struct {
	Node  *corev1.Node
	Cause events.Event
}

// State is everything the controller decides from.
type State struct {
	Ingresses map[string]*Ingress // namespace/name
	Classes   map[string]*networkingv1.IngressClass
	Nodes     map[string]Node
	// ClassDeleted: wake's IngressClass existed and was deleted (it stays so).
	ClassDeleted bool
}

// Decide returns the appends that bring the Ingresses' status and wake's
// IngressClass to what they should be, at most one per subject, each guarded
// by the version it was decided from. It is pure.
//
// Wake's IngressClass is created once an Ingress exists, unless the class
// exists or existed; it is marked as the default unless another class is. An Ingress
// of wake's class (see node/ingress.Ours) gets in status.loadBalancer.ingress
// the InternalIP of every node whose Ready condition is not False or Unknown,
// sorted (each node's agent proxies for every Ingress); one of another class
// gets an empty status, and an event whose reason says why wake leaves it
// alone, once per reason.
func Decide(st *State) []reconcile.Action {
	var out []reconcile.Action
	if a, ok := defaultClass(st); ok {
		out = append(out, a)
	}
	var addrs []networkingv1.IngressLoadBalancerIngress
	for _, name := range sortedKeys(st.Nodes) {
		n := st.Nodes[name].Node
		if n.DeletionTimestamp != nil || !ready(n) {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && a.Address != "" {
				addrs = append(addrs, networkingv1.IngressLoadBalancerIngress{IP: a.Address})
			}
		}
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].IP < addrs[j].IP })
	for _, key := range sortedKeys(st.Ingresses) {
		in := st.Ingresses[key]
		if in.Ing.DeletionTimestamp != nil {
			continue
		}
		ours, why := nodeingress.Ours(in.Ing, st.Classes)
		status := networkingv1.IngressStatus{}
		reason := why
		if ours {
			status.LoadBalancer.Ingress = addrs
			reason = "served by wake's ingress proxy on " + addresses(addrs)
			if len(addrs) == 0 {
				reason = "no node is ready to serve it"
			}
		}
		if equality.Semantic.DeepEqual(in.Ing.Status, status) && (ours || in.Note == reason) {
			continue
		}
		raw, _ := json.Marshal(status)
		k, _ := object.ByKind("Ingress")
		ref := events.Ref{Kind: "Ingress", Namespace: in.Ing.Namespace, Name: in.Ing.Name}
		out = append(out, reconcile.NewAction(Actor, in.Cause, object.EventType(k, object.Status), ref, in.Version, reason,
			&object.StatusChange{Status: raw}))
	}
	return out
}

func addresses(in []networkingv1.IngressLoadBalancerIngress) string {
	var ips []string
	for _, a := range in {
		ips = append(ips, a.IP)
	}
	return strings.Join(ips, ", ")
}

// defaultClass creates wake's IngressClass, caused by the event of the first
// Ingress by name (a log without Ingresses gets no class: nothing is appended
// for a feature nobody uses).
func defaultClass(st *State) (reconcile.Action, bool) {
	if st.Classes[nodeingress.ClassName] != nil || st.ClassDeleted || len(st.Ingresses) == 0 {
		return reconcile.Action{}, false
	}
	first := st.Ingresses[sortedKeys(st.Ingresses)[0]]
	c := &networkingv1.IngressClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IngressClass"},
		ObjectMeta: metav1.ObjectMeta{Name: nodeingress.ClassName, UID: types.UID("ingressclass-" + nodeingress.ClassName)},
		Spec:       networkingv1.IngressClassSpec{Controller: nodeingress.Controller},
	}
	if nodeingress.DefaultClass(st.Classes) == nil {
		c.Annotations = map[string]string{nodeingress.DefaultClassAnnotation: "true"}
	}
	raw, _ := json.Marshal(c)
	k, _ := object.ByKind("IngressClass")
	return reconcile.NewAction(Actor, first.Cause, object.EventType(k, object.Created), events.Ref{Kind: "IngressClass", Name: c.Name}, 0,
		"wake's IngressClass, the default: the first Ingress ("+first.Ing.Namespace+"/"+first.Ing.Name+") appeared", &object.Change{Object: raw}), true
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
