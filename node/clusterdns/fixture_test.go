package clusterdns

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// history writes events as the log would hold them, numbering them.
type history struct {
	seq uint64
	evs []*events.Event
}

func (h *history) add(kind, verb string, ref events.Ref, payload any) {
	h.seq++
	raw, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	ref.Kind = kind
	h.evs = append(h.evs, &events.Event{ID: fmt.Sprintf("e%d", h.seq), Type: strings.ToLower(kind) + "." + verb, Seq: h.seq,
		Time: t0.Add(time.Duration(h.seq) * time.Second), Object: ref, Actor: "test", Schema: events.SchemaVersion, Payload: raw})
}

func (h *history) create(obj object.Object) {
	kind := fmt.Sprintf("%T", obj)
	kind = kind[strings.LastIndex(kind, ".")+1:]
	obj.SetUID(types.UID("uid-" + obj.GetName()))
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	h.add(kind, object.Created, events.Ref{Namespace: obj.GetNamespace(), Name: obj.GetName()}, &object.Change{Object: raw})
}

func (h *history) update(obj object.Object) {
	kind := fmt.Sprintf("%T", obj)
	kind = kind[strings.LastIndex(kind, ".")+1:]
	raw, _ := json.Marshal(obj)
	h.add(kind, object.Updated, events.Ref{Namespace: obj.GetNamespace(), Name: obj.GetName()}, &object.Change{Object: raw})
}

func (h *history) remove(kind, ns, name string) {
	h.add(kind, object.Deleted, events.Ref{Namespace: ns, Name: name}, &object.Deletion{})
}

// podStatus is the node's report of a pod's status, on the pod's facet.
func (h *history) podStatus(ns, name, node string, st corev1.PodStatus) {
	raw, _ := json.Marshal(st)
	h.add("Pod", object.Status, events.Ref{Namespace: ns, Name: name, Node: node}, &object.StatusChange{Status: raw})
}

func (h *history) fold(t testing.TB) *projections.MemState {
	t.Helper()
	s := projections.NewMemState()
	for _, ev := range h.evs {
		object.Prepare(ev)
		if err := Fold(s, ev); err != nil {
			t.Fatalf("fold %s %s: %v", ev.Type, ev.Object, err)
		}
	}
	return s
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func service(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, Ports: ports, SessionAffinity: corev1.ServiceAffinityNone}}
	if clusterIP != "" {
		svc.Spec.ClusterIPs = []string{clusterIP}
	}
	return svc
}

func externalName(ns, name, target string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target, SessionAffinity: corev1.ServiceAffinityNone}}
}

func port(name string, protocol corev1.Protocol, p int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: protocol, Port: p, TargetPort: intstr.FromInt32(p)}
}

type ep struct {
	ip, hostname string
	ready        *bool
}

func slice(ns, name, svc string, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4, Ports: ports}
	for _, e := range eps {
		x := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}}
		if e.hostname != "" {
			x.Hostname = &e.hostname
		}
		sl.Endpoints = append(sl.Endpoints, x)
	}
	return sl
}

func slicePort(name string, protocol corev1.Protocol, p int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: &name, Protocol: &protocol, Port: &p}
}

func ptr[T any](v T) *T { return &v }

func pod(ns, name, hostname, subdomain string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{Hostname: hostname, Subdomain: subdomain, RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
			Containers: []corev1.Container{{Name: "c", Image: "busybox:1.35", ImagePullPolicy: corev1.PullIfNotPresent,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile, TerminationMessagePath: "/dev/termination-log",
				Ports: []corev1.ContainerPort{{Name: "redis", ContainerPort: 6379, Protocol: corev1.ProtocolTCP}}}}}}
}

func running(ip string, ready bool) corev1.PodStatus {
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	return corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}}
}

// cluster is the table's cluster: Services of every kind in namespace shop.
func cluster() *history {
	h := &history{}
	h.create(namespace("default"))
	h.create(namespace("shop"))
	h.create(service("shop", "web", "10.96.0.20", port("http", corev1.ProtocolTCP, 80), port("dns", corev1.ProtocolUDP, 53)))
	h.create(service("shop", "db", corev1.ClusterIPNone, port("pg", corev1.ProtocolTCP, 5432)))
	h.create(slice("shop", "db-x7k2q", "db", []discoveryv1.EndpointPort{slicePort("pg", corev1.ProtocolTCP, 5432)},
		ep{ip: "10.66.24.5", hostname: "db-0", ready: ptr(true)}, ep{ip: "10.66.24.6"}, ep{ip: "10.66.24.7", ready: ptr(false)}))
	h.create(externalName("shop", "ext", "db.example.test"))
	h.create(externalName("shop", "alias", "web.shop.svc.cluster.local"))
	h.create(externalName("shop", "loop", "loop.shop.svc.cluster.local"))
	h.create(service("shop", "empty", corev1.ClusterIPNone, port("x", corev1.ProtocolTCP, 1)))
	cache := service("shop", "cache", corev1.ClusterIPNone, corev1.ServicePort{Name: "redis", Protocol: corev1.ProtocolTCP, Port: 6379, TargetPort: intstr.FromString("redis")})
	cache.Spec.Selector = map[string]string{"app": "cache"}
	h.create(cache)
	h.create(pod("shop", "cache-0", "cache-0", "cache", map[string]string{"app": "cache"}))
	h.podStatus("shop", "cache-0", "n1", running("10.66.24.9", true))
	h.create(pod("shop", "cache-1", "cache-1", "cache", map[string]string{"app": "cache"}))
	h.podStatus("shop", "cache-1", "n1", running("10.66.24.10", false))
	h.create(pod("shop", "stranger", "stranger", "cache", map[string]string{"app": "other"}))
	h.podStatus("shop", "stranger", "n1", running("10.66.24.11", true))
	return h
}

// rrs renders records as "name ttl class type data", sorted.
func rrs(list []dns.RR) []string {
	var out []string
	for _, rr := range list {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	sort.Strings(out)
	return out
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	return m
}

var serverIP = net.ParseIP("10.66.24.1")
