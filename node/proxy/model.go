package proxy

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/wake-run/wake/node/services"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Endpoint is one address a service port forwards to.
type Endpoint struct {
	IP   string
	Port int32
	Node string // the endpoint's nodeName; "" unknown
}

func (e Endpoint) String() string { return fmt.Sprintf("%s:%d", e.IP, e.Port) }

// Port is what the proxy does for one port of one Service: the addresses it
// answers on and the endpoints it forwards to.
type Port struct {
	Namespace, Service string
	Name               string // the service port's name ("" for a lone unnamed port)
	Protocol           corev1.Protocol
	ClusterIP          string
	Port               int32
	NodePort           int32 // 0: none
	// External are the addresses answered like the ClusterIP but reached from
	// outside: spec.externalIPs and status.loadBalancer.ingress IPs.
	External []string
	// Affinity is sessionAffinity ClientIP's timeout in seconds; 0: none.
	Affinity int32
	// ExternalLocal is externalTrafficPolicy Local (node port and external
	// addresses go only to this node's endpoints, keeping the client's
	// address); InternalLocal is internalTrafficPolicy Local.
	ExternalLocal, InternalLocal bool
	// Cluster are the endpoints for traffic spread over the cluster: the ready
	// ones, or when none is ready the serving ones that are terminating (as
	// kube-proxy). Local are this node's, chosen the same way.
	Cluster, Local []Endpoint
}

// ID names the port as kube-proxy does: namespace/service/protocol/port.
func (p *Port) ID() string {
	name := p.Name
	if name == "" {
		name = fmt.Sprint(p.Port)
	}
	return p.Namespace + "/" + p.Service + "/" + strings.ToLower(string(p.Protocol)) + "/" + name
}

// Internal are the endpoints for traffic to the ClusterIP.
func (p *Port) Internal() []Endpoint {
	if p.InternalLocal {
		return p.Local
	}
	return p.Cluster
}

// ExternalEndpoints are the endpoints for traffic to the node port and the
// external addresses.
func (p *Port) ExternalEndpoints() []Endpoint {
	if p.ExternalLocal {
		return p.Local
	}
	return p.Cluster
}

// HasExternal says whether the port is reached other than by its ClusterIP.
func (p *Port) HasExternal() bool { return p.NodePort != 0 || len(p.External) > 0 }

// Build computes the ports node proxies from the projection: every port of
// every Service with a ClusterIP (headless and ExternalName Services have
// none), with the endpoints of its EndpointSlices (IPv4).
func Build(st *services.State, node string) []Port {
	var out []Port
	for _, svc := range st.Services {
		ip := svc.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			continue
		}
		var external []string
		for _, e := range svc.Spec.ExternalIPs {
			external = appendIPv4(external, e)
		}
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			for _, in := range svc.Status.LoadBalancer.Ingress {
				external = appendIPv4(external, in.IP)
			}
		}
		var affinity int32
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			affinity = corev1.DefaultClientIPServiceAffinitySeconds
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				affinity = *c.ClientIP.TimeoutSeconds
			}
		}
		externalLocal := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal &&
			(svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer || len(svc.Spec.ExternalIPs) > 0)
		internalLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
		for _, sp := range svc.Spec.Ports {
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			p := Port{Namespace: svc.Namespace, Service: svc.Name, Name: sp.Name, Protocol: proto, ClusterIP: ip, Port: sp.Port,
				External: external, Affinity: affinity, ExternalLocal: externalLocal, InternalLocal: internalLocal}
			if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
				p.NodePort = sp.NodePort
			}
			p.Cluster, p.Local = endpoints(st.SlicesOf(svc), sp.Name, proto, node)
			out = append(out, p)
		}
	}
	return out
}

func appendIPv4(list []string, ip string) []string {
	if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
		return append(list, a.String())
	}
	return list
}

// endpoints picks the endpoints of a service port from its slices: the slice
// port of the same name and protocol gives the port number; an endpoint is
// ready when conditions.ready is true or unset. Without a ready one, the
// serving ones that are terminating take the traffic. Each list is sorted.
func endpoints(slices []*discoveryv1.EndpointSlice, name string, proto corev1.Protocol, node string) (cluster, local []Endpoint) {
	type cand struct {
		Endpoint
		ready, servingTerminating bool
	}
	seen := map[string]bool{}
	var all []cand
	for _, es := range slices {
		if es.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		var port int32
		for _, p := range es.Ports {
			pp := corev1.ProtocolTCP
			if p.Protocol != nil {
				pp = *p.Protocol
			}
			pn := ""
			if p.Name != nil {
				pn = *p.Name
			}
			if pn == name && pp == proto && p.Port != nil {
				port = *p.Port
				break
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range es.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			a, err := netip.ParseAddr(e.Addresses[0])
			if err != nil || !a.Is4() {
				continue
			}
			ep := Endpoint{IP: a.String(), Port: port}
			if e.NodeName != nil {
				ep.Node = *e.NodeName
			}
			if seen[ep.String()] {
				continue
			}
			seen[ep.String()] = true
			c := e.Conditions
			ready := c.Ready == nil || *c.Ready
			serving := c.Serving == nil && ready || c.Serving != nil && *c.Serving
			terminating := c.Terminating != nil && *c.Terminating
			all = append(all, cand{Endpoint: ep, ready: ready, servingTerminating: serving && terminating})
		}
	}
	pick := func(keep func(cand) bool) []Endpoint {
		var ready, fallback []Endpoint
		for _, c := range all {
			if !keep(c) {
				continue
			}
			if c.ready {
				ready = append(ready, c.Endpoint)
			} else if c.servingTerminating {
				fallback = append(fallback, c.Endpoint)
			}
		}
		if len(ready) == 0 {
			ready = fallback
		}
		sort.Slice(ready, func(i, j int) bool { return ready[i].String() < ready[j].String() })
		return ready
	}
	cluster = pick(func(cand) bool { return true })
	local = pick(func(c cand) bool { return node != "" && c.Node == node })
	return cluster, local
}
