package servicenet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ErrFull is wrapped by the error of an allocation that found no free address
// or node port.
var ErrFull = errors.New("range is full")

// Taken is what other Services hold: cluster IPs and node ports (a node port
// is held whatever its protocol, as in Kubernetes), each with the Service
// holding it ("namespace/name").
type Taken struct {
	IPs       map[netip.Addr]string
	NodePorts map[int32]string
}

// TakenBy collects what services hold, leaving out the Service
// namespace/name itself (the one being written).
func TakenBy(services []*corev1.Service, namespace, name string) Taken {
	t := Taken{IPs: map[netip.Addr]string{}, NodePorts: map[int32]string{}}
	for _, s := range services {
		if s.Namespace == namespace && s.Name == name {
			continue
		}
		holder := s.Namespace + "/" + s.Name
		for _, ip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
			if a, err := netip.ParseAddr(ip); err == nil {
				t.IPs[a] = holder
			}
		}
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				t.NodePorts[p.NodePort] = holder
			}
		}
		if s.Spec.HealthCheckNodePort != 0 {
			t.NodePorts[s.Spec.HealthCheckNodePort] = holder
		}
	}
	return t
}

// Allocate gives svc, a defaulted and valid Service about to be stored, what
// its type needs from the network, as the Kubernetes API server does on
// create and update:
//   - ExternalName: no cluster IP, no IP families.
//   - every other type: IP family IPv4 (SingleStack), and a cluster IP: the one
//     requested (spec.clusterIP or clusterIPs[0]) if it is usable and free,
//     "None" for a headless Service, else a free one. kube-system/kube-dns
//     gets DNSAddress unless it asks for another; no other Service may have it.
//   - NodePort, and LoadBalancer unless allocateLoadBalancerNodePorts is
//     false: a node port for every port, the one requested if free.
//
// prev is the stored Service (nil on create): what it already holds is kept
// without checks, so a Service whose address predates a change of range is
// not refused on update. taken is what the other Services hold. Allocation
// is deterministic: a dynamic address or port is the first free one from a
// point derived from the Service's namespace and name. The errors name the
// field and what is allowed, in Kubernetes' words.
func (n Network) Allocate(svc *corev1.Service, prev *corev1.Service, taken Taken) field.ErrorList {
	spec := &svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		spec.ClusterIP, spec.ClusterIPs, spec.IPFamilies, spec.IPFamilyPolicy = "", nil, nil, nil
		return nil
	}
	errs := n.families(svc)
	if len(errs) > 0 {
		return errs
	}
	errs = append(errs, n.clusterIP(svc, prev, taken)...)
	errs = append(errs, n.nodePorts(svc, prev, taken)...)
	return errs
}

func (n Network) families(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	p := field.NewPath("spec")
	for i, f := range spec.IPFamilies {
		if f != corev1.IPv4Protocol {
			return field.ErrorList{field.Invalid(p.Child("ipFamilies").Index(i), f,
				fmt.Sprintf("not configured on this cluster: the service network is IPv4 only (%s)", n))}
		}
	}
	if len(spec.IPFamilies) > 1 {
		return field.ErrorList{field.Invalid(p.Child("ipFamilies"), spec.IPFamilies, "may have one family on a single-stack cluster")}
	}
	if pol := spec.IPFamilyPolicy; pol != nil && *pol == corev1.IPFamilyPolicyRequireDualStack {
		return field.ErrorList{field.Invalid(p.Child("ipFamilyPolicy"), *pol,
			"this cluster is not configured for dual-stack services (the service network is IPv4 only)")}
	}
	spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	if spec.IPFamilyPolicy == nil {
		single := corev1.IPFamilyPolicySingleStack
		spec.IPFamilyPolicy = &single
	}
	return nil
}

func (n Network) clusterIP(svc *corev1.Service, prev *corev1.Service, taken Taken) field.ErrorList {
	spec := &svc.Spec
	requested := spec.ClusterIP
	if requested == "" && len(spec.ClusterIPs) > 0 {
		requested = spec.ClusterIPs[0]
	}
	path := field.NewPath("spec", "clusterIPs")
	switch {
	case requested == corev1.ClusterIPNone:
		spec.ClusterIP, spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
		return nil
	case requested != "" && prev != nil && prev.Spec.ClusterIP == requested:
		spec.ClusterIP, spec.ClusterIPs = requested, []string{requested}
		return nil
	case requested != "":
		a, err := netip.ParseAddr(requested)
		fail := func(why string) field.ErrorList {
			return field.ErrorList{field.Invalid(path, []string{requested}, fmt.Sprintf("failed to allocate IP %s: %s", requested, why))}
		}
		switch {
		case err != nil:
			return fail("not an IP address")
		case !n.Usable(a):
			return fail(fmt.Sprintf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", requested, n))
		case taken.IPs[a] != "":
			return fail("provided IP is already allocated")
		case a == n.DNSAddress() && !isDNS(svc):
			return fail(fmt.Sprintf("provided IP is reserved for the cluster DNS service %s/%s", DNSNamespace, DNSName))
		}
		spec.ClusterIP, spec.ClusterIPs = requested, []string{requested}
		return nil
	}
	if dns := n.DNSAddress(); isDNS(svc) && taken.IPs[dns] == "" {
		spec.ClusterIP, spec.ClusterIPs = dns.String(), []string{dns.String()}
		return nil
	}
	a, err := n.freeIP(svc, taken)
	if err != nil {
		return field.ErrorList{field.InternalError(path, err)}
	}
	spec.ClusterIP, spec.ClusterIPs = a.String(), []string{a.String()}
	return nil
}

func isDNS(svc *corev1.Service) bool { return svc.Namespace == DNSNamespace && svc.Name == DNSName }

// freeIP is the first free address from a point of the dynamic band derived
// from the Service's name, then of the static band. The first address (kept
// for an API server's `kubernetes` Service, as Kubernetes does) and the DNS
// address are never handed out.
func (n Network) freeIP(svc *corev1.Service, taken Taken) (netip.Addr, error) {
	size, band := n.size(), min(n.staticBand(), n.size()-1)
	free := func(off uint64) bool {
		return off > 1 && off < size-1 && off != dnsOffset && taken.IPs[n.nth(off)] == ""
	}
	if band < size-1 {
		span := size - 1 - band
		start := seed(svc) % span
		for i := range span {
			if off := band + (start+i)%span; free(off) {
				return n.nth(off), nil
			}
		}
	}
	for off := uint64(2); off < band; off++ {
		if free(off) {
			return n.nth(off), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("failed to allocate a serviceIP: %w (every address of %s is taken)", ErrFull, n)
}

func (n Network) nodePorts(svc *corev1.Service, prev *corev1.Service, taken Taken) field.ErrorList {
	spec := &svc.Spec
	needs := spec.Type == corev1.ServiceTypeNodePort ||
		spec.Type == corev1.ServiceTypeLoadBalancer && (spec.AllocateLoadBalancerNodePorts == nil || *spec.AllocateLoadBalancerNodePorts)
	held := map[int32]bool{}
	if prev != nil {
		for _, p := range prev.Spec.Ports {
			held[p.NodePort] = p.NodePort != 0
		}
	}
	var errs field.ErrorList
	mine := map[int32]map[corev1.Protocol]bool{} // node ports of this Service, by protocol
	use := func(port int32, proto corev1.Protocol) {
		if mine[port] == nil {
			mine[port] = map[corev1.Protocol]bool{}
		}
		mine[port][proto] = true
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		switch {
		case p.NodePort == 0:
			continue
		case mine[p.NodePort][p.Protocol]:
			errs = append(errs, field.Duplicate(path, p.NodePort))
		case held[p.NodePort]:
		case int(p.NodePort) < n.NodePortMin || int(p.NodePort) > n.NodePortMax:
			errs = append(errs, field.Invalid(path, p.NodePort, fmt.Sprintf(
				"provided port is not in the valid range. The range of valid ports is %d-%d", n.NodePortMin, n.NodePortMax)))
		case taken.NodePorts[p.NodePort] != "":
			errs = append(errs, field.Invalid(path, p.NodePort, "provided port is already allocated"))
		}
		use(p.NodePort, p.Protocol)
	}
	if !needs || len(errs) > 0 {
		return errs
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		port, err := n.freeNodePort(svc, i, taken, mine)
		if err != nil {
			return append(errs, field.InternalError(field.NewPath("spec", "ports").Index(i).Child("nodePort"), err))
		}
		p.NodePort = port
		use(port, p.Protocol)
	}
	return errs
}

// freeNodePort is the first node port, from a point derived from the
// Service's name and the port's index, that no Service holds.
func (n Network) freeNodePort(svc *corev1.Service, index int, taken Taken, mine map[int32]map[corev1.Protocol]bool) (int32, error) {
	span := uint64(n.NodePortMax - n.NodePortMin + 1)
	start := (seed(svc) + uint64(index)) % span
	for i := range span {
		port := int32(uint64(n.NodePortMin) + (start+i)%span)
		if taken.NodePorts[port] == "" && len(mine[port]) == 0 {
			return port, nil
		}
	}
	return 0, fmt.Errorf("failed to allocate a nodePort: %w (every port of %d-%d is taken)", ErrFull, n.NodePortMin, n.NodePortMax)
}

// seed derives where a Service's search for a free address or port starts.
func seed(svc *corev1.Service) uint64 {
	h := fnv.New64a()
	h.Write([]byte(svc.Namespace + "/" + svc.Name))
	return h.Sum64()
}
