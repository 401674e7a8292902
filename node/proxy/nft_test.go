package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/wake-run/wake/node/services"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/knftables"
)

const podCIDR = "10.66.22.0/24"

func ptr[T any](v T) *T { return &v }

func svc(name, ip string, mut ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip},
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}}}
	for _, m := range mut {
		m(s)
	}
	return s
}

type ep struct {
	ip, node                    string
	ready, serving, terminating *bool
}

func ready(ip, node string) ep { return ep{ip: ip, node: node} }

func slice(svcName string, port int32, portName string, proto corev1.Protocol, eps ...ep) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: svcName + "-abcde",
		Labels: map[string]string{discoveryv1.LabelServiceName: svcName}}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr(portName), Port: ptr(port), Protocol: ptr(proto)}}}
	for _, e := range eps {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.ip}, NodeName: ptr(e.node),
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminating}})
	}
	return es
}

func state(objs ...any) *services.State {
	st := &services.State{Slices: map[string][]*discoveryv1.EndpointSlice{}}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			st.Services = append(st.Services, o)
		case *discoveryv1.EndpointSlice:
			k := o.Namespace + "/" + o.Labels[discoveryv1.LabelServiceName]
			st.Slices[k] = append(st.Slices[k], o)
		}
	}
	return st
}

// run syncs st into fake and returns its dump.
func run(t *testing.T, fake *knftables.Fake, st *services.State) string {
	t.Helper()
	existing, err := fake.ListAll(context.Background())
	if err != nil && !knftables.IsNotFound(err) {
		t.Fatal(err)
	}
	tx := fake.NewTransaction()
	Sync(tx, Build(st, "node-x"), podCIDR, existing)
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatalf("transaction refused: %v\n%s", err, tx)
	}
	return fake.Dump()
}

func TestDumpShape(t *testing.T) {
	fake := knftables.NewFake(knftables.IPv4Family, "wake-node-x")
	t.Log(run(t, fake, state(svc("web", "10.96.0.50", func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	}), slice("web", 8080, "", corev1.ProtocolTCP, ready("10.66.22.5", "node-x"), ready("10.66.23.7", "node-y")))))
}

func has(t *testing.T, dump string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(dump, w) {
			t.Errorf("the table lacks %q:\n%s", w, dump)
		}
	}
}

func lacks(t *testing.T, dump string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(dump, w) {
			t.Errorf("the table has %q:\n%s", w, dump)
		}
	}
}
