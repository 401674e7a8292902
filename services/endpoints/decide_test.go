package endpoints

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func svc(mut ...func(*corev1.Service)) *object.Stored {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "svc-uid", Labels: map[string]string{"team": "a"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.1.1", Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}}}
	for _, m := range mut {
		m(s)
	}
	return &object.Stored{Object: s, Version: 7}
}

func pod(name, ip string, mut ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	for _, m := range mut {
		m(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func terminating(p *corev1.Pod) {
	p.DeletionTimestamp = &metav1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func input(service *object.Stored, pods ...*corev1.Pod) Input {
	return Input{Namespace: "shop", Name: "web", Service: service, Pods: pods, Cause: events.Event{ID: "cause-1"},
		Deleted: func(string, string) uint64 { return 0 }}
}

// summary renders what Decide appended: for a slice, each endpoint as
// ip:port(s) r/s/t (ready, serving, terminating); for Endpoints, each subset
// as addresses | notReadyAddresses : ports.
func summary(t *testing.T, actions []reconcile.Action) []string {
	t.Helper()
	var out []string
	for _, a := range actions {
		ev := a.Event
		line := fmt.Sprintf("%s %s @%d", ev.Type, ev.Object.Name, a.Expected)
		switch {
		case strings.HasSuffix(ev.Type, ".deleted"):
		case ev.Object.Kind == "EndpointSlice":
			var ch object.Change
			var s discoveryv1.EndpointSlice
			if err := json.Unmarshal(ev.Payload, &ch); err != nil || json.Unmarshal(ch.Object, &s) != nil {
				t.Fatalf("%s: %v", ev.Type, err)
			}
			var ports []string
			for _, p := range s.Ports {
				ports = append(ports, fmt.Sprintf("%s=%d/%s", *p.Name, *p.Port, *p.Protocol))
			}
			line += " ports[" + strings.Join(ports, ",") + "]"
			for _, e := range s.Endpoints {
				flag := func(b *bool, c string) string {
					if b != nil && *b {
						return c
					}
					return "-"
				}
				line += fmt.Sprintf(" %s:%s%s%s", e.Addresses[0], flag(e.Conditions.Ready, "r"), flag(e.Conditions.Serving, "s"), flag(e.Conditions.Terminating, "t"))
				if e.TargetRef == nil || e.TargetRef.Name == "" || e.NodeName == nil {
					t.Errorf("endpoint %s without targetRef or nodeName", e.Addresses[0])
				}
				if e.Hostname != nil {
					line += "(" + *e.Hostname + ")"
				}
			}
			if s.Labels[discoveryv1.LabelServiceName] != "web" || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy || s.Labels["team"] != "a" ||
				len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "svc-uid" || s.AddressType != discoveryv1.AddressTypeIPv4 {
				t.Errorf("slice %s: labels %v, owners %v, address type %s", s.Name, s.Labels, s.OwnerReferences, s.AddressType)
			}
		case ev.Object.Kind == "Endpoints":
			var ch object.Change
			var e corev1.Endpoints
			if err := json.Unmarshal(ev.Payload, &ch); err != nil || json.Unmarshal(ch.Object, &e) != nil {
				t.Fatalf("%s: %v", ev.Type, err)
			}
			for _, ss := range e.Subsets {
				ips := func(as []corev1.EndpointAddress) string {
					var l []string
					for _, a := range as {
						l = append(l, a.IP)
					}
					return strings.Join(l, ",")
				}
				var ports []string
				for _, p := range ss.Ports {
					ports = append(ports, fmt.Sprintf("%s=%d", p.Name, p.Port))
				}
				line += fmt.Sprintf(" [%s|%s:%s]", ips(ss.Addresses), ips(ss.NotReadyAddresses), strings.Join(ports, ","))
			}
		case ev.Object.Kind == "Service":
			var ch object.StatusChange
			var st corev1.ServiceStatus
			if err := json.Unmarshal(ev.Payload, &ch); err != nil || json.Unmarshal(ch.Status, &st) != nil {
				t.Fatalf("%s: %v", ev.Type, err)
			}
			for _, in := range st.LoadBalancer.Ingress {
				line += " " + in.IP
			}
		}
		out = append(out, line)
	}
	return out
}

// sliceOf is the stored slice a Decide action created, as the log would hold it.
func storedOf(t *testing.T, a reconcile.Action, k *object.Kind, version uint64) *object.Stored {
	t.Helper()
	var ch object.Change
	if err := json.Unmarshal(a.Event.Payload, &ch); err != nil {
		t.Fatal(err)
	}
	obj, err := object.DecodeObject(k, ch.Object)
	if err != nil {
		t.Fatal(err)
	}
	return &object.Stored{Object: obj, Version: version}
}

func TestDecide(t *testing.T) {
	web := sliceName("web", "http/TCP/8080,")
	empty := sliceName("web", "")
	cases := []struct {
		name string
		in   Input
		want []string
	}{
		{"ready pods", input(svc(), pod("b", "10.88.0.10"), pod("a", "10.88.0.9")), []string{
			"endpointslice.created " + web + " @0 ports[http=8080/TCP] 10.88.0.9:rs- 10.88.0.10:rs-",
			"endpoints.created web @0 [10.88.0.9,10.88.0.10|:http=8080]",
		}},
		{"not ready and terminating", input(svc(), pod("a", "10.88.0.9", notReady), pod("b", "10.88.0.10"), pod("c", "10.88.0.11", terminating)), []string{
			"endpointslice.created " + web + " @0 ports[http=8080/TCP] 10.88.0.9:--- 10.88.0.10:rs- 10.88.0.11:-st",
			"endpoints.created web @0 [10.88.0.10|10.88.0.9:http=8080]",
		}},
		{"publishNotReadyAddresses", input(svc(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			pod("a", "10.88.0.9", notReady), pod("c", "10.88.0.11", terminating)), []string{
			"endpointslice.created " + web + " @0 ports[http=8080/TCP] 10.88.0.9:r-- 10.88.0.11:rst",
			"endpoints.created web @0 [10.88.0.9,10.88.0.11|:http=8080]",
		}},
		{"no IP yet, finished, other labels", input(svc(), pod("a", ""), pod("b", "10.88.0.10", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			pod("c", "10.88.0.11", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "db"} })), []string{
			"endpointslice.created " + empty + " @0 ports[]",
			"endpoints.created web @0",
		}},
		{"named target port per pod", input(svc(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http") }),
			pod("a", "10.88.0.9"),
			pod("b", "10.88.0.10", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9090 }),
			pod("c", "10.88.0.11", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "metrics" })), []string{
			"endpointslice.created " + web + " @0 ports[http=8080/TCP] 10.88.0.9:rs-",
			"endpointslice.created " + sliceName("web", "http/TCP/9090,") + " @0 ports[http=9090/TCP] 10.88.0.10:rs-",
			"endpoints.created web @0 [10.88.0.9|:http=8080] [10.88.0.10|:http=9090]",
		}},
		{"several ports and protocols", input(svc(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(5353)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(5353)}}
		}), pod("a", "10.88.0.9")), []string{
			"endpointslice.created " + sliceName("web", "dns/UDP/5353,dns-tcp/TCP/5353,") + " @0 ports[dns=5353/UDP,dns-tcp=5353/TCP] 10.88.0.9:rs-",
			"endpoints.created web @0 [10.88.0.9|:dns=5353,dns-tcp=5353]",
		}},
		{"headless with hostnames", input(svc(func(s *corev1.Service) { s.Spec.ClusterIP = "None" }),
			pod("a", "10.88.0.9", func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db-0", "web" })), []string{
			"endpointslice.created " + web + " @0 ports[http=8080/TCP] 10.88.0.9:rs-(db-0)",
			"endpoints.created web @0 [10.88.0.9|:http=8080]",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := summary(t, Decide(tc.in))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("appended:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// What Decide appended, once stored, needs nothing more; a change of pods
// updates it in place, guarded by the versions stored.
func TestDecideConverges(t *testing.T) {
	in := input(svc(), pod("a", "10.88.0.9"), pod("b", "10.88.0.10"))
	first := Decide(in)
	if len(first) != 2 {
		t.Fatalf("first decision: %q", summary(t, first))
	}
	in.Slices = []*object.Stored{storedOf(t, first[0], sliceKind, 11)}
	in.Endpoints, in.EndpointsOurs = storedOf(t, first[1], endpointsKind, 12), true
	if got := Decide(in); len(got) != 0 {
		t.Fatalf("decided again from its own result: %q", summary(t, got))
	}

	// b is deleted, a stops being ready.
	in.Pods = []*corev1.Pod{pod("a", "10.88.0.9", notReady)}
	want := []string{
		"endpointslice.updated " + in.Slices[0].Object.GetName() + " @11 ports[http=8080/TCP] 10.88.0.9:---",
		"endpoints.updated web @12 [|10.88.0.9:http=8080]",
	}
	if got := summary(t, Decide(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("after a pod went and one stopped being ready:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// The selector changes to pods that use another port: the slice keeps its
	// name and says the new ports.
	in.Service = svc(func(s *corev1.Service) {
		s.Spec.Selector = map[string]string{"app": "api"}
		s.Spec.Ports[0].TargetPort = intstr.FromInt32(9000)
	})
	in.Pods = append(in.Pods, pod("api", "10.88.0.20", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "api"} }))
	want = []string{
		"endpointslice.updated " + in.Slices[0].Object.GetName() + " @11 ports[http=9000/TCP] 10.88.0.20:rs-",
		"endpoints.updated web @12 [10.88.0.20|:http=9000]",
	}
	if got := summary(t, Decide(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("after a selector change:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// Pods on two sets of ports need a second slice.
	in.Pods = append(in.Pods, pod("api-2", "10.88.0.21", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "api"} }))
	in.Service.Object.(*corev1.Service).Spec.Ports[0].TargetPort = intstr.FromString("http")
	in.Pods[1].Spec.Containers[0].Ports[0].ContainerPort = 9000
	want = []string{
		"endpointslice.created " + sliceName("web", "http/TCP/9000,") + " @0 ports[http=9000/TCP] 10.88.0.20:rs-",
		"endpointslice.updated " + in.Slices[0].Object.GetName() + " @11 ports[http=8080/TCP] 10.88.0.21:rs-",
		"endpoints.updated web @12 [10.88.0.21|:http=8080] [10.88.0.20|:http=9000]",
	}
	if got := summary(t, Decide(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("pods on two sets of ports:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// A slice deleted before is created again at the version of its deletion.
	in.Slices = nil
	in.Deleted = func(kind, name string) uint64 {
		if kind == "EndpointSlice" {
			return 30
		}
		return 0
	}
	if got := summary(t, Decide(in)); !strings.HasSuffix(strings.Fields(got[0])[2], "@30") {
		t.Errorf("recreating a deleted slice names %q, want @30", got[0])
	}
}

func TestDecideCleansUp(t *testing.T) {
	ours := storedOf(t, Decide(input(svc(), pod("a", "10.88.0.9")))[0], sliceKind, 11)
	theirs := ours.Object.DeepCopyObject().(*discoveryv1.EndpointSlice)
	theirs.Name, theirs.Labels = "web-by-hand", map[string]string{discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: "someone"}
	handEP := &object.Stored{Object: &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "ep"}}, Version: 12}
	for _, tc := range []struct {
		name    string
		service *object.Stored
		ours    bool // the Endpoints was last written by the controller
		want    []string
	}{
		{"service deleted", nil, true, []string{"endpointslice.deleted " + ours.Object.GetName() + " @11", "endpoints.deleted web @12"}},
		{"selector removed, hand-written endpoints kept", svc(func(s *corev1.Service) { s.Spec.Selector = nil }), false,
			[]string{"endpointslice.deleted " + ours.Object.GetName() + " @11"}},
		{"external name", svc(func(s *corev1.Service) { s.Spec.Type, s.Spec.ClusterIP = corev1.ServiceTypeExternalName, "" }), true,
			[]string{"endpointslice.deleted " + ours.Object.GetName() + " @11", "endpoints.deleted web @12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(tc.service)
			in.Slices = []*object.Stored{ours, {Object: theirs, Version: 13}}
			in.Endpoints, in.EndpointsOurs = handEP, tc.ours
			if got := summary(t, Decide(in)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("appended %q, want %q", got, tc.want)
			}
		})
	}
	// A Service with a selector takes over an Endpoints someone wrote.
	in := input(svc(), pod("a", "10.88.0.9"))
	in.Slices = []*object.Stored{ours}
	in.Endpoints = handEP
	if got := summary(t, Decide(in)); !reflect.DeepEqual(got, []string{"endpoints.updated web @12 [10.88.0.9|:http=8080]"}) {
		t.Errorf("over hand-written endpoints: %q", got)
	}
}

func TestDecideLoadBalancer(t *testing.T) {
	lb := svc(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer; s.Spec.Selector = nil })
	in := input(lb)
	in.NodeIPs = []string{"192.168.1.10", "192.168.1.11"}
	if got := summary(t, Decide(in)); !reflect.DeepEqual(got, []string{"service.status web @7 192.168.1.10 192.168.1.11"}) {
		t.Errorf("load balancer: %q", got)
	}
	lb.Object.(*corev1.Service).Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{
		{IP: "192.168.1.10", IPMode: ptr(corev1.LoadBalancerIPModeVIP)}, {IP: "192.168.1.11", IPMode: ptr(corev1.LoadBalancerIPModeVIP)}}
	if got := Decide(in); len(got) != 0 {
		t.Errorf("with its ingress set: %q", summary(t, got))
	}
	// No longer a LoadBalancer: the ingress goes.
	lb.Object.(*corev1.Service).Spec.Type = corev1.ServiceTypeNodePort
	if got := summary(t, Decide(in)); !reflect.DeepEqual(got, []string{"service.status web @7"}) {
		t.Errorf("after type NodePort: %q", got)
	}
}

func TestSliceName(t *testing.T) {
	a, b := sliceName("web", "x"), sliceName("web", "y")
	if a == b || a != sliceName("web", "x") || !strings.HasPrefix(a, "web-") || len(a) != len("web-")+5 {
		t.Errorf("slice names %q %q", a, b)
	}
	long := sliceName(strings.Repeat("s", 63), "")
	if len(long) > 63 {
		t.Errorf("slice name of a 63-character service is %d long", len(long))
	}
}

// Many pods take several slices of at most MaxEndpointsPerSlice; the
// Endpoints stops at MaxEndpointsAddresses and says it was truncated.
func TestDecideManyPods(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 1005 {
		pods = append(pods, pod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.88.%d.%d", i/250, 1+i%250)))
	}
	actions := Decide(input(svc(), pods...))
	if len(actions) != 12 {
		t.Fatalf("%d appends, want 11 slices and the Endpoints", len(actions))
	}
	seen, names := 0, map[string]bool{}
	for _, a := range actions[:11] {
		st := storedOf(t, a, sliceKind, 1)
		s := st.Object.(*discoveryv1.EndpointSlice)
		if len(s.Endpoints) > MaxEndpointsPerSlice || names[s.Name] {
			t.Errorf("slice %s: %d endpoints (or a name twice)", s.Name, len(s.Endpoints))
		}
		names[s.Name] = true
		seen += len(s.Endpoints)
	}
	if seen != 1005 {
		t.Errorf("the slices hold %d endpoints, want 1005", seen)
	}
	ep := storedOf(t, actions[11], endpointsKind, 1).Object.(*corev1.Endpoints)
	if n := len(ep.Subsets[0].Addresses); n != MaxEndpointsAddresses || ep.Annotations[corev1.EndpointsOverCapacity] != "truncated" {
		t.Errorf("Endpoints with %d addresses, annotations %v", n, ep.Annotations)
	}
}
