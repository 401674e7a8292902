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

func notReady(ip, node string) ep { return ep{ip: ip, node: node, ready: ptr(false)} }
func terminating(ip, node string) ep {
	return ep{ip: ip, node: node, ready: ptr(false), serving: ptr(true), terminating: ptr(true)}
}

const (
	svcChain = "service-QUQIVZQZ-default/web/tcp/80"
	extChain = "external-QUQIVZQZ-default/web/tcp/80"
	locChain = "local-QUQIVZQZ-default/web/tcp/80"
)

func TestRules(t *testing.T) {
	nodePort := func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort; s.Spec.Ports[0].NodePort = 30080 }
	for _, tc := range []struct {
		name        string
		st          *services.State
		want, lacks []string
	}{{
		name: "a ClusterIP spreads at random over its ready endpoints, each masquerading its own traffic (hairpin)",
		st:   state(svc("web", "10.96.0.50"), slice("web", 8080, "", "TCP", ready("10.66.22.5", "node-x"), ready("10.66.22.6", "node-x"), notReady("10.66.22.7", "node-x"))),
		want: []string{
			"add element ip wake-node-x service-ips { 10.96.0.50 . tcp . 80 : goto " + svcChain + " }",
			"add rule ip wake-node-x " + svcChain + " ip daddr 10.96.0.50 tcp dport 80 ip saddr != 10.66.22.0/24 jump mark-for-masquerade",
			"numgen random mod 2 vmap { 0 : goto endpoint-",
			"__10.66.22.5/8080 ip saddr 10.66.22.5 jump mark-for-masquerade",
			"__10.66.22.6/8080 meta l4proto tcp dnat to 10.66.22.6:8080",
			"add rule ip wake-node-x reject-chain meta l4proto tcp reject with tcp reset",
			"add rule ip wake-node-x nat-postrouting jump masquerading",
		},
		lacks: []string{"10.66.22.7", "add set", "add element ip wake-node-x no-endpoint-services"},
	}, {
		name:  "a Service without endpoints is rejected at once: a reset for TCP, port unreachable for UDP",
		st:    state(svc("web", "10.96.0.50", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "UDP" }), slice("web", 8080, "", "UDP", notReady("10.66.22.7", "node-x"))),
		want:  []string{"add element ip wake-node-x no-endpoint-services { 10.96.0.50 . udp . 80 : goto reject-chain }"},
		lacks: []string{"add element ip wake-node-x service-ips", "service-QUQ", "add chain ip wake-node-x endpoint-"},
	}, {
		name:  "without a ready endpoint, the serving ones that terminate take the traffic",
		st:    state(svc("web", "10.96.0.50"), slice("web", 8080, "", "TCP", notReady("10.66.22.7", "node-x"), terminating("10.66.22.8", "node-x"))),
		want:  []string{"numgen random mod 1 vmap { 0 : goto endpoint-", "dnat to 10.66.22.8:8080"},
		lacks: []string{"10.66.22.7"},
	}, {
		name: "ClientIP affinity: a set per endpoint with the timeout, checked before the random pick",
		st: state(svc("web", "10.96.0.50", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
		}), slice("web", 8080, "", "TCP", ready("10.66.22.5", "node-x"))),
		want: []string{"{ type ipv4_addr ; flags dynamic,timeout ; timeout 60s ; }", svcChain + " ip saddr @affinity-", "update @affinity-"},
	}, {
		name: "a node port on the node's addresses (not loopback), masqueraded, and a LoadBalancer's ingress IP answered like it",
		st: state(svc("web", "10.96.0.50", nodePort, func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.66.22.1"}}
		}), slice("web", 8080, "", "TCP", ready("10.66.22.5", "node-x"))),
		want: []string{
			"services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
			"add element ip wake-node-x service-nodeports { tcp . 30080 : goto " + extChain + " }",
			"add element ip wake-node-x service-ips { 10.66.22.1 . tcp . 80 : goto " + extChain + " }",
			"add rule ip wake-node-x " + extChain + " jump mark-for-masquerade",
			"add rule ip wake-node-x " + extChain + " goto " + svcChain,
		},
	}, {
		name: "externalTrafficPolicy Local: outside traffic only to this node's endpoints, unmasqueraded; pods and the host through the cluster",
		st: state(svc("web", "10.96.0.50", nodePort, func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
			slice("web", 8080, "", "TCP", ready("10.66.22.5", "node-x"), ready("10.66.23.7", "node-y"))),
		want: []string{
			extChain + " ip saddr 10.66.22.0/24 goto " + svcChain,
			extChain + " fib saddr type local jump mark-for-masquerade",
			extChain + " goto " + locChain,
			"add rule ip wake-node-x " + locChain + " numgen random mod 1 vmap { 0 : goto endpoint-",
			"service-ips { 10.96.0.50 . tcp . 80 : goto " + svcChain + " }",
		},
		lacks: []string{extChain + " jump mark-for-masquerade"},
	}, {
		name: "externalTrafficPolicy Local without a local endpoint: the node port drops, the ClusterIP still answers",
		st: state(svc("web", "10.96.0.50", nodePort, func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
			slice("web", 8080, "", "TCP", ready("10.66.23.7", "node-y"))),
		want:  []string{"no-endpoint-nodeports { tcp . 30080 : drop }", "service-ips { 10.96.0.50 . tcp . 80 : goto " + svcChain + " }"},
		lacks: []string{"add chain ip wake-node-x " + extChain, "add chain ip wake-node-x " + locChain},
	}, {
		name: "internalTrafficPolicy Local: the ClusterIP goes to this node's endpoints only, or drops",
		st: state(svc("web", "10.96.0.50", func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyLocal)
		}), svc("other", "10.96.0.51", func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyLocal)
		}), slice("web", 8080, "", "TCP", ready("10.66.22.5", "node-x"), ready("10.66.23.7", "node-y")),
			slice("other", 8080, "", "TCP", ready("10.66.23.8", "node-y"))),
		want: []string{"service-ips { 10.96.0.50 . tcp . 80 : goto " + locChain + " }", "no-endpoint-services { 10.96.0.51 . tcp . 80 : drop }",
			locChain + " numgen random mod 1 vmap { 0 : goto endpoint-"},
	}, {
		name: "several ports, TCP and UDP, each matched to its slice port by name",
		st: state(svc("dns", "10.96.0.10", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: "UDP"}, {Name: "dns-tcp", Port: 53, Protocol: "TCP"}}
		}), &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "dns-x", Labels: map[string]string{discoveryv1.LabelServiceName: "dns"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("dns"), Port: ptr(int32(5353)), Protocol: ptr(corev1.ProtocolUDP)}, {Name: ptr("dns-tcp"), Port: ptr(int32(5354)), Protocol: ptr(corev1.ProtocolTCP)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.66.22.9"}}}}),
		want: []string{"10.96.0.10 . udp . 53 : goto service-", "10.96.0.10 . tcp . 53 : goto service-", "meta l4proto udp dnat to 10.66.22.9:5353", "meta l4proto tcp dnat to 10.66.22.9:5354"},
	}, {
		name: "headless and ExternalName Services have no rules",
		st: state(svc("headless", "None"), svc("ext", "", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "example.com"
		})),
		lacks: []string{"add element"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dump := run(t, knftables.NewFake(knftables.IPv4Family, "wake-node-x"), tc.st)
			has(t, dump, tc.want...)
			lacks(t, dump, tc.lacks...)
		})
	}
}

// A sync rewrites the whole table: what is gone is deleted, what was changed
// by hand comes back, and a second sync of the same state changes nothing.
func TestSyncConverges(t *testing.T) {
	fake := knftables.NewFake(knftables.IPv4Family, "wake-node-x")
	aff := func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP }
	full := state(svc("web", "10.96.0.50", aff), slice("web", 8080, "", "TCP", ready("10.66.22.5", "node-x"), ready("10.66.22.6", "node-x")))
	want := run(t, fake, full)
	if again := run(t, fake, full); again != want {
		t.Errorf("a second sync changed the table:\n%s\nwant\n%s", again, want)
	}

	// A rule deleted and a map flushed by hand come back.
	rules, _ := fake.ListRules(context.Background(), svcChain)
	tx := fake.NewTransaction()
	tx.Delete(&knftables.Rule{Chain: svcChain, Handle: rules[0].Handle})
	tx.Flush(&knftables.Map{Name: mapServiceIPs})
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	if got := run(t, fake, full); got != want {
		t.Errorf("after a rule was deleted by hand, the sync left:\n%s\nwant\n%s", got, want)
	}

	// The table deleted by hand comes back.
	tx = fake.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := fake.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	if got := run(t, fake, full); got != want {
		t.Errorf("after the table was deleted, the sync left:\n%s\nwant\n%s", got, want)
	}

	// An endpoint gone: its chain and affinity set go; the Service gone: all of it.
	got := run(t, fake, state(svc("web", "10.96.0.50", aff), slice("web", 8080, "", "TCP", ready("10.66.22.5", "node-x"))))
	lacks(t, got, "10.66.22.6")
	if n := strings.Count(got, "add set"); n != 1 {
		t.Errorf("%d affinity sets after an endpoint left, want 1:\n%s", n, got)
	}
	got = run(t, fake, state())
	lacks(t, got, "add chain ip wake-node-x endpoint-", "service-QUQ", "add set", "10.96.0.50")
	empty := run(t, knftables.NewFake(knftables.IPv4Family, "wake-node-x"), state())
	if got != empty {
		t.Errorf("with no Service left the table is\n%s\nwant\n%s", got, empty)
	}
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
