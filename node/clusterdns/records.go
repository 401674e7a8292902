package clusterdns

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// errNoName is the answer's NXDOMAIN: the name does not exist in the zone.
var errNoName = errors.New("no such name")

// entry is one thing a name stands for, as CoreDNS's kubernetes plugin finds
// it: an address (or, for an ExternalName, a CNAME target) and a port (-1:
// none), under owner, the name SRV targets point at.
type entry struct {
	owner string
	host  string
	port  int
}

// request is a name of the zone taken apart as the kubernetes plugin does:
// [_port._protocol.|endpoint.]service.namespace.(svc|pod).
type request struct {
	port, protocol, endpoint, service, namespace, podOrSvc string
}

// parse takes apart a lowercase FQDN of the zone. A name that cannot be a
// service's or a pod's is errNoName.
func (z Zone) parse(name string) (request, error) {
	var r request
	base := strings.TrimSuffix(strings.TrimSuffix(name, z.Domain), ".")
	if base == "" || base == "svc" || base == "pod" {
		return r, nil
	}
	segs := dns.SplitDomainName(base)
	last := len(segs) - 1
	r.podOrSvc = segs[last]
	if r.podOrSvc != "svc" && r.podOrSvc != "pod" {
		return r, errNoName
	}
	if last--; last < 0 {
		return r, nil
	}
	r.namespace = segs[last]
	if last--; last < 0 {
		return r, nil
	}
	r.service = segs[last]
	if last--; last < 0 {
		return r, nil
	}
	switch last {
	case 0:
		r.endpoint = segs[0]
	case 1:
		r.port, r.protocol = strings.TrimPrefix(segs[0], "_"), strings.TrimPrefix(segs[1], "_")
	default:
		return r, errNoName
	}
	return r, nil
}

// records finds what a lowercase FQDN of the zone stands for. No entries and
// no error is NODATA (the name exists, holding nothing of the kind asked).
func (z Zone) records(v view, name string) ([]entry, error) {
	r, err := z.parse(name)
	if err != nil || r.podOrSvc == "" {
		return nil, err
	}
	if !v.namespaceExists(r.namespace) {
		return nil, errNoName
	}
	if r.podOrSvc == "pod" {
		return z.pod(r)
	}
	return z.service(v, r)
}

// pod answers a-b-c-d.<namespace>.pod.<domain> with the address its name
// spells, without checking that a pod has it (CoreDNS's `pods insecure`, as
// kubeadm configures it).
func (z Zone) pod(r request) ([]entry, error) {
	if r.service == "" {
		return nil, nil
	}
	if r.endpoint != "" || r.port != "" {
		return nil, errNoName
	}
	ip := strings.ReplaceAll(r.service, "-", ":")
	if strings.Count(r.service, "-") == 3 && !strings.Contains(r.service, "--") {
		ip = strings.ReplaceAll(r.service, "-", ".")
	}
	if net.ParseIP(ip) == nil {
		return nil, errNoName
	}
	return []entry{{owner: r.service + "." + r.namespace + ".pod." + z.Domain, host: ip, port: -1}}, nil
}

func (z Zone) service(v view, r request) ([]entry, error) {
	if r.service == "" {
		return nil, nil
	}
	svc := v.service(r.namespace, r.service)
	if svc == nil {
		return nil, errNoName
	}
	owner := svc.Name + "." + svc.Namespace + ".svc." + z.Domain
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		if r.endpoint != "" || net.ParseIP(svc.Spec.ExternalName) != nil || svc.Spec.ExternalName == "" {
			return nil, errNoName
		}
		return []entry{{owner: owner, host: svc.Spec.ExternalName, port: -1}}, nil
	case svc.Spec.ClusterIP == corev1.ClusterIPNone || r.endpoint != "":
		var out []entry
		for _, a := range endpointAddresses(v, svc) {
			if r.endpoint != "" && r.endpoint != a.hostname {
				continue
			}
			for _, p := range a.ports {
				if matchPort(r, p.name, p.protocol) {
					out = append(out, entry{owner: a.hostname + "." + owner, host: a.ip, port: p.port})
				}
			}
		}
		if len(out) == 0 {
			return nil, errNoName
		}
		return out, nil
	}
	var out []entry
	found := false
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, p := range svc.Spec.Ports {
		if !matchPort(r, p.Name, string(p.Protocol)) {
			continue
		}
		found = true
		for _, ip := range ips {
			out = append(out, entry{owner: owner, host: ip, port: int(p.Port)})
		}
	}
	if !found {
		return nil, errNoName
	}
	return out, nil
}

// matchPort: an empty port or protocol of the request matches any.
func matchPort(r request, name, protocol string) bool {
	return (r.port == "" || strings.EqualFold(r.port, name)) && (r.protocol == "" || strings.EqualFold(r.protocol, protocol))
}

type portInfo struct {
	name, protocol string
	port           int
}

// address is a ready endpoint of a Service, named by its hostname (the
// endpoint's, else its address with dashes).
type address struct {
	ip, hostname string
	ports        []portInfo
}

// endpointAddresses are the ready endpoints of the Service's EndpointSlices
// (an endpoint of unknown readiness counts as ready, as the API says), then
// the pods that name the Service as their subdomain, have a hostname, are
// selected by it and ready (or the Service publishes not-ready addresses),
// and are not listed already: the endpoints controller copies such a pod's
// hostname into its endpoint, and until it has, the pod is found here.
func endpointAddresses(v view, svc *corev1.Service) []address {
	var out []address
	seen := map[string]bool{}
	for _, sl := range v.slices(svc.Namespace, svc.Name) {
		ports := []portInfo{{port: -1}}
		if len(sl.Ports) > 0 {
			ports = ports[:0]
			for _, p := range sl.Ports {
				pi := portInfo{port: -1, protocol: string(corev1.ProtocolTCP)}
				if p.Name != nil {
					pi.name = *p.Name
				}
				if p.Protocol != nil {
					pi.protocol = string(*p.Protocol)
				}
				if p.Port != nil {
					pi.port = int(*p.Port)
				}
				ports = append(ports, pi)
			}
		}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, ip := range ep.Addresses {
				host := strings.ReplaceAll(ip, ".", "-")
				if ep.Hostname != nil && *ep.Hostname != "" {
					host = *ep.Hostname
				}
				seen[ip] = true
				out = append(out, address{ip: ip, hostname: host, ports: ports})
			}
		}
	}
	if len(svc.Spec.Selector) == 0 {
		return out
	}
	selector := labels.SelectorFromSet(svc.Spec.Selector)
	for _, pod := range v.podsInSubdomain(svc.Namespace, svc.Name) {
		ip := pod.Status.PodIP
		if ip == "" || seen[ip] || !selector.Matches(labels.Set(pod.Labels)) ||
			!svc.Spec.PublishNotReadyAddresses && (!podReady(pod) || pod.DeletionTimestamp != nil) {
			continue
		}
		seen[ip] = true
		out = append(out, address{ip: ip, hostname: pod.Spec.Hostname, ports: podPorts(svc, pod)})
	}
	return out
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podPorts are the Service's ports as the pod serves them: targetPort by
// number, or by the name of a container port (a name the pod lacks is left
// out, as the endpoints controller leaves it out).
func podPorts(svc *corev1.Service, pod *corev1.Pod) []portInfo {
	if len(svc.Spec.Ports) == 0 {
		return []portInfo{{port: -1}}
	}
	var out []portInfo
	for _, sp := range svc.Spec.Ports {
		port := int(sp.Port)
		switch {
		case sp.TargetPort.IntVal != 0:
			port = int(sp.TargetPort.IntVal)
		case sp.TargetPort.StrVal != "":
			port = containerPort(pod, sp.TargetPort.StrVal, sp.Protocol)
		}
		if port > 0 {
			out = append(out, portInfo{name: sp.Name, protocol: string(sp.Protocol), port: port})
		}
	}
	return out
}

func containerPort(pod *corev1.Pod, name string, protocol corev1.Protocol) int {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name && (p.Protocol == protocol || p.Protocol == "" && protocol == corev1.ProtocolTCP) {
				return int(p.ContainerPort)
			}
		}
	}
	if n, err := strconv.Atoi(name); err == nil {
		return n
	}
	return 0
}
