package servicenet

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func service(ns, name string, typ corev1.ServiceType, clusterIP string, nodePorts ...int32) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP}}
	if len(nodePorts) == 0 {
		nodePorts = []int32{0}
	}
	for i, np := range nodePorts {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "p" + string(rune('a'+i)), Port: 80 + int32(i), Protocol: corev1.ProtocolTCP, NodePort: np})
	}
	return s
}

func TestParse(t *testing.T) {
	for _, tc := range []struct{ cidr, err string }{
		{"", ""}, {"10.96.0.0/16", ""}, {"172.30.0.0/24", ""}, {"10.0.0.0/28", ""},
		{"10.96.0.5/16", "did you mean 10.96.0.0/16?"},
		{"fd00::/108", "IPv4 only"},
		{"10.0.0.0/29", "too small"},
		{"ten", "not a CIDR"},
	} {
		n, err := Parse(tc.cidr)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tc.cidr, err, tc.err)
		}
		if tc.cidr == "" && n.String() != DefaultCIDR {
			t.Errorf("Parse(\"\") = %s, want %s", n, DefaultCIDR)
		}
	}
	if got := Default().DNSAddress().String(); got != "10.96.0.10" {
		t.Errorf("DNS address of the default range = %s, want 10.96.0.10", got)
	}
	if n, _ := Parse("172.30.0.0/24"); n.DNSAddress().String() != "172.30.0.10" {
		t.Errorf("DNS address of 172.30.0.0/24 = %s", n.DNSAddress())
	}
}

func TestAllocate(t *testing.T) {
	n := Default()
	web := service("shop", "web", corev1.ServiceTypeClusterIP, "10.96.0.20")
	np := service("shop", "np", corev1.ServiceTypeNodePort, "10.96.0.21", 30080)
	others := TakenBy([]*corev1.Service{web, np}, "shop", "new")
	lbNoPorts := service("shop", "new", corev1.ServiceTypeLoadBalancer, "")
	lbNoPorts.Spec.AllocateLoadBalancerNodePorts = new(bool)
	v6 := service("shop", "new", corev1.ServiceTypeClusterIP, "")
	v6.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	dual := service("shop", "new", corev1.ServiceTypeClusterIP, "")
	dual.Spec.IPFamilyPolicy = new(corev1.IPFamilyPolicy)
	*dual.Spec.IPFamilyPolicy = corev1.IPFamilyPolicyRequireDualStack
	dupPorts := service("shop", "new", corev1.ServiceTypeNodePort, "", 30100, 30100)
	udpTwin := service("shop", "new", corev1.ServiceTypeNodePort, "", 30100, 30100)
	udpTwin.Spec.Ports[1].Protocol = corev1.ProtocolUDP

	cases := []struct {
		name  string
		svc   *corev1.Service
		prev  *corev1.Service
		taken Taken
		// want: the cluster IP ("dynamic": any free one of the dynamic band);
		// ports: the node ports (-1: any in range).
		want  string
		ports []int32
		err   string
	}{
		{name: "dynamic", svc: service("shop", "new", corev1.ServiceTypeClusterIP, ""), taken: others, want: "dynamic", ports: []int32{0}},
		{name: "requested free", svc: service("shop", "new", corev1.ServiceTypeClusterIP, "10.96.0.22"), taken: others, want: "10.96.0.22", ports: []int32{0}},
		{name: "requested taken", svc: service("shop", "new", corev1.ServiceTypeClusterIP, "10.96.0.20"), taken: others,
			err: `spec.clusterIPs: Invalid value: ["10.96.0.20"]: failed to allocate IP 10.96.0.20: provided IP is already allocated`},
		{name: "requested out of range", svc: service("shop", "new", corev1.ServiceTypeClusterIP, "10.0.0.5"), taken: others,
			err: `spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/16`},
		{name: "network address", svc: service("shop", "new", corev1.ServiceTypeClusterIP, "10.96.0.0"), taken: others, err: "not in the valid range"},
		{name: "broadcast address", svc: service("shop", "new", corev1.ServiceTypeClusterIP, "10.96.255.255"), taken: others, err: "not in the valid range"},
		{name: "DNS address is reserved", svc: service("shop", "new", corev1.ServiceTypeClusterIP, "10.96.0.10"), taken: others,
			err: "provided IP is reserved for the cluster DNS service kube-system/kube-dns"},
		{name: "DNS service gets the DNS address", svc: service("kube-system", "kube-dns", corev1.ServiceTypeClusterIP, ""), taken: others, want: "10.96.0.10", ports: []int32{0}},
		{name: "DNS service may ask for it", svc: service("kube-system", "kube-dns", corev1.ServiceTypeClusterIP, "10.96.0.10"), taken: others, want: "10.96.0.10", ports: []int32{0}},
		{name: "headless", svc: service("shop", "new", corev1.ServiceTypeClusterIP, "None"), taken: others, want: "None", ports: []int32{0}},
		{name: "external name", svc: &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "new"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}}, taken: others, want: ""},
		{name: "released after delete", svc: service("shop", "new", corev1.ServiceTypeClusterIP, "10.96.0.20"),
			taken: TakenBy([]*corev1.Service{np}, "shop", "new"), want: "10.96.0.20", ports: []int32{0}},
		{name: "own address on update", svc: service("shop", "web", corev1.ServiceTypeClusterIP, "10.96.0.20"), prev: web,
			taken: TakenBy([]*corev1.Service{web, np}, "shop", "web"), want: "10.96.0.20", ports: []int32{0}},
		{name: "held address outside a changed range", svc: service("shop", "web", corev1.ServiceTypeClusterIP, "10.0.0.7"),
			prev: service("shop", "web", corev1.ServiceTypeClusterIP, "10.0.0.7"), taken: others, want: "10.0.0.7", ports: []int32{0}},
		{name: "node port allocated", svc: service("shop", "new", corev1.ServiceTypeNodePort, ""), taken: others, want: "dynamic", ports: []int32{-1}},
		{name: "node port requested", svc: service("shop", "new", corev1.ServiceTypeNodePort, "", 30081), taken: others, want: "dynamic", ports: []int32{30081}},
		{name: "node port taken", svc: service("shop", "new", corev1.ServiceTypeNodePort, "", 30080), taken: others,
			err: "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"},
		{name: "node port kept on update", svc: service("shop", "np", corev1.ServiceTypeNodePort, "10.96.0.21", 30080), prev: np,
			taken: TakenBy([]*corev1.Service{web, np}, "shop", "np"), want: "10.96.0.21", ports: []int32{30080}},
		{name: "node port out of range", svc: service("shop", "new", corev1.ServiceTypeNodePort, "", 8080), taken: others,
			err: "provided port is not in the valid range. The range of valid ports is 30000-32767"},
		{name: "node port twice in one service", svc: dupPorts, taken: others, err: `spec.ports[1].nodePort: Duplicate value: 30100`},
		{name: "one node port for TCP and UDP", svc: udpTwin, taken: others, want: "dynamic", ports: []int32{30100, 30100}},
		{name: "load balancer", svc: service("shop", "new", corev1.ServiceTypeLoadBalancer, "", 0, 0), taken: others, want: "dynamic", ports: []int32{-1, -1}},
		{name: "load balancer without node ports", svc: lbNoPorts, taken: others, want: "dynamic", ports: []int32{0}},
		{name: "IPv6 refused", svc: v6, taken: others, err: "spec.ipFamilies[0]: Invalid value: \"IPv6\""},
		{name: "dual stack refused", svc: dual, taken: others, err: "spec.ipFamilyPolicy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := n.Allocate(tc.svc, tc.prev, tc.taken)
			if tc.err != "" {
				if errs.ToAggregate() == nil || !strings.Contains(errs.ToAggregate().Error(), tc.err) {
					t.Fatalf("errors %v, want %q", errs, tc.err)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			spec := tc.svc.Spec
			switch {
			case tc.want == "dynamic":
				a := netip.MustParseAddr(spec.ClusterIP)
				if off, _ := n.offset(a); off < n.staticBand() || !n.Usable(a) || tc.taken.IPs[a] != "" {
					t.Errorf("cluster IP %s is not a free address of the dynamic band", a)
				}
			case spec.ClusterIP != tc.want:
				t.Errorf("cluster IP %q, want %q", spec.ClusterIP, tc.want)
			}
			if tc.want != "" && (len(spec.ClusterIPs) != 1 || spec.ClusterIPs[0] != spec.ClusterIP) {
				t.Errorf("clusterIPs %v, want [%s]", spec.ClusterIPs, spec.ClusterIP)
			}
			if tc.want != "" && (len(spec.IPFamilies) != 1 || spec.IPFamilies[0] != corev1.IPv4Protocol || *spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
				t.Errorf("families %v %v, want IPv4 SingleStack", spec.IPFamilies, spec.IPFamilyPolicy)
			}
			if tc.want == "" && (spec.IPFamilies != nil || len(spec.ClusterIPs) > 0) {
				t.Errorf("an ExternalName service got %v %v", spec.ClusterIPs, spec.IPFamilies)
			}
			for i, want := range tc.ports {
				got := spec.Ports[i].NodePort
				switch {
				case want == -1 && (got < NodePortMin || got > NodePortMax || tc.taken.NodePorts[got] != ""):
					t.Errorf("port %d: node port %d is not a free one in range", i, got)
				case want != -1 && got != want:
					t.Errorf("port %d: node port %d, want %d", i, got, want)
				}
			}
			if len(tc.ports) == 2 && tc.ports[0] == -1 && spec.Ports[0].NodePort == spec.Ports[1].NodePort {
				t.Errorf("two ports got the same node port %d", spec.Ports[0].NodePort)
			}
		})
	}
}

// Allocation is a function of the Services the log holds: the same Services
// give the same answer (a restarted control plane decides the same), and a
// deleted one's address is handed out again.
func TestAllocateIsDerivedFromServices(t *testing.T) {
	n := Default()
	first := service("shop", "web", corev1.ServiceTypeNodePort, "")
	if errs := n.Allocate(first, nil, TakenBy(nil, "shop", "web")); len(errs) > 0 {
		t.Fatal(errs)
	}
	again := service("shop", "web", corev1.ServiceTypeNodePort, "")
	n.Allocate(again, nil, TakenBy(nil, "shop", "web"))
	if again.Spec.ClusterIP != first.Spec.ClusterIP || again.Spec.Ports[0].NodePort != first.Spec.Ports[0].NodePort {
		t.Errorf("same services, different answers: %s:%d then %s:%d", first.Spec.ClusterIP, first.Spec.Ports[0].NodePort,
			again.Spec.ClusterIP, again.Spec.Ports[0].NodePort)
	}
	// When what that search would find is held by another Service, it goes on.
	holder := first.DeepCopy()
	holder.Name = "holder"
	same := service("shop", "web", corev1.ServiceTypeNodePort, "")
	n.Allocate(same, nil, TakenBy([]*corev1.Service{holder}, "shop", "web"))
	if same.Spec.ClusterIP == first.Spec.ClusterIP || same.Spec.Ports[0].NodePort == first.Spec.Ports[0].NodePort {
		t.Errorf("a held address or port was handed out again: %s:%d", same.Spec.ClusterIP, same.Spec.Ports[0].NodePort)
	}
}

func TestAllocateFull(t *testing.T) {
	n, _ := Parse("10.0.0.0/28") // offsets 2..14 but the DNS address (10): 12 addresses
	var held []*corev1.Service
	for i := range 12 {
		s := service("shop", "s"+string(rune('a'+i)), corev1.ServiceTypeClusterIP, "")
		if errs := n.Allocate(s, nil, TakenBy(held, "shop", s.Name)); len(errs) > 0 {
			t.Fatalf("service %d: %v", i, errs)
		}
		if s.Spec.ClusterIP == "10.0.0.1" || s.Spec.ClusterIP == "10.0.0.10" {
			t.Errorf("service %d got the reserved %s", i, s.Spec.ClusterIP)
		}
		held = append(held, s)
	}
	last := service("shop", "last", corev1.ServiceTypeClusterIP, "")
	errs := n.Allocate(last, nil, TakenBy(held, "shop", "last"))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "range is full") {
		t.Errorf("a full range: %v", errs)
	}
}
