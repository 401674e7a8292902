package ingress_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/ingress"
	"github.com/wake-run/wake/services/reconcile/reconciletest"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func registerNode(l *reconciletest.Log, name, ip string, ready corev1.ConditionStatus) {
	k, _ := object.ByKind("Node")
	ref := events.Ref{Kind: "Node", Name: name}
	if l.Get(ref) == nil {
		n := corev1.Node{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"}, ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}}
		raw, _ := json.Marshal(n)
		l.As("system:node:"+name, object.EventType(k, object.Created), ref, &object.Change{Object: raw})
	}
	st, _ := json.Marshal(corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}})
	l.As("system:node:"+name, object.EventType(k, object.Status), ref, &object.StatusChange{Status: st})
}

func ingressStatus(t *testing.T, l *reconciletest.Log, name string) []string {
	t.Helper()
	st := l.Get(events.Ref{Kind: "Ingress", Namespace: "default", Name: name})
	var ips []string
	for _, a := range st.Object.(*networkingv1.Ingress).Status.LoadBalancer.Ingress {
		ips = append(ips, a.IP)
	}
	return ips
}

const web = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: web.test
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
`

func TestControllerClassStatusAndForeignIngresses(t *testing.T) {
	l := reconciletest.NewLog(t)
	c := l.Attach(ingress.Decision())

	// A node alone appends nothing: a log without Ingresses gets no class.
	registerNode(l, "node-a", "10.66.25.1", corev1.ConditionTrue)
	if got := c.RoundAll(); len(got) != 0 {
		t.Fatalf("without Ingresses the controller appended %q", l.Summary(got))
	}

	l.Apply(web)
	got := c.RoundAll()
	want := []string{"ingressclass.created IngressClass/wake @0", "ingress.status Ingress/default/web @3"}
	if !reflect.DeepEqual(l.Summary(got), want) {
		t.Fatalf("first Ingress: %q, want %q", l.Summary(got), want)
	}
	class := l.Get(events.Ref{Kind: "IngressClass", Name: "wake"}).Object.(*networkingv1.IngressClass)
	if class.Spec.Controller != "wake.run/ingress-controller" || class.Annotations["ingressclass.kubernetes.io/is-default-class"] != "true" {
		t.Fatalf("wake's class: %+v", class)
	}
	if ips := ingressStatus(t, l, "web"); !reflect.DeepEqual(ips, []string{"10.66.25.1"}) {
		t.Fatalf("status %v", ips)
	}
	if got := c.RoundAll(); len(got) != 0 {
		t.Fatalf("a settled state appended %q", l.Summary(got))
	}

	// Another node; a NotReady one is left out.
	registerNode(l, "node-b", "10.66.26.1", corev1.ConditionTrue)
	registerNode(l, "node-c", "10.66.27.1", corev1.ConditionUnknown)
	if got := c.RoundAll(); len(got) != 1 {
		t.Fatalf("a new node: %q", l.Summary(got))
	}
	if ips := ingressStatus(t, l, "web"); !reflect.DeepEqual(ips, []string{"10.66.25.1", "10.66.26.1"}) {
		t.Fatalf("status %v", ips)
	}

	// An Ingress of another controller's class: one event saying why, no
	// address; once only.
	l.Apply(`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: web, port: {number: 80}}}
`)
	got = c.RoundAll()
	if len(got) != 1 || got[0].Type != "ingress.status" || got[0].Object.Name != "other" ||
		!strings.Contains(got[0].Reason, `IngressClass "nginx" belongs to controller k8s.io/ingress-nginx, not wake.run/ingress-controller`) {
		t.Fatalf("foreign Ingress: %q (%v)", l.Summary(got), got)
	}
	if got := c.RoundAll(); len(got) != 0 {
		t.Fatalf("the foreign Ingress was noted again: %q", l.Summary(got))
	}
	// It moves to wake's class: it gets the addresses.
	l.Apply(strings.Replace(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: web, port: {number: 80}}}
`, "nginx", "wake", 1))
	c.RoundAll()
	if ips := ingressStatus(t, l, "other"); len(ips) != 2 {
		t.Fatalf("an Ingress moved to wake's class: status %v", ips)
	}
	// And back: the address goes, with a reason.
	l.Apply(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other}
spec:
  ingressClassName: traefik
  defaultBackend: {service: {name: web, port: {number: 80}}}
`)
	got = c.RoundAll()
	if len(got) != 1 || !strings.Contains(got[0].Reason, `IngressClass "traefik" does not exist`) || len(ingressStatus(t, l, "other")) != 0 {
		t.Fatalf("moved to a missing class: %q", l.Summary(got))
	}

	// wake's class deleted by someone stays deleted.
	l.Delete(events.Ref{Kind: "IngressClass", Name: "wake"})
	if got := c.RoundAll(); len(reconciletest.OfType(got, "ingressclass.created")) != 0 {
		t.Fatalf("a deleted class was created again: %q", l.Summary(got))
	}
}

func TestDefaultClassIsNotMarkedWhenAnotherIs(t *testing.T) {
	l := reconciletest.NewLog(t)
	c := l.Attach(ingress.Decision())
	l.Apply(`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx, annotations: {ingressclass.kubernetes.io/is-default-class: "true"}}
spec: {controller: k8s.io/ingress-nginx}
`)
	l.Apply(web)
	c.RoundAll()
	class := l.Get(events.Ref{Kind: "IngressClass", Name: "wake"}).Object.(*networkingv1.IngressClass)
	if class.Annotations["ingressclass.kubernetes.io/is-default-class"] != "" {
		t.Fatalf("two default classes: %+v", class.Annotations)
	}
}
