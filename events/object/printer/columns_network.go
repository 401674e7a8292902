package printer

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// loadBalancerWidth is where kubectl clips load balancer addresses outside
// wide output.
const loadBalancerWidth = 16

var serviceTable = tableKind{
	columns: []column{
		{name: "Name"},
		{name: "Type"},
		{name: "Cluster-IP"},
		{name: "External-IP"},
		{name: "Port(s)"},
		{name: "Age"},
		{name: "Selector", wide: true},
	},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return nil, fmt.Errorf("expected *v1.Service, got %T", obj)
		}
		clusterIP := svc.Spec.ClusterIP
		if len(svc.Spec.ClusterIPs) > 0 {
			clusterIP = svc.Spec.ClusterIPs[0]
		}
		ports := servicePorts(svc.Spec.Ports)
		return []string{
			svc.Name,
			string(serviceType(svc)),
			orNone(clusterIP),
			serviceExternalIP(svc, ctx.wide),
			orNone(ports),
			Age(svc.CreationTimestamp.Time, ctx.now),
			labels.FormatLabels(svc.Spec.Selector),
		}, nil
	},
}

// serviceType applies the API default (ClusterIP) to an empty type.
func serviceType(svc *corev1.Service) corev1.ServiceType {
	if svc.Spec.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return svc.Spec.Type
}

// protocolOrDefault applies the API default (TCP) to an empty protocol.
func protocolOrDefault(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// servicePorts renders "80/TCP,443:30443/TCP" like kubectl's PORT(S).
func servicePorts(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		proto := protocolOrDefault(p.Protocol)
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, proto)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.Port, proto)
		}
	}
	return strings.Join(pieces, ",")
}

// serviceExternalIP renders kubectl's EXTERNAL-IP: external IPs, load
// balancer ingress ("<pending>" while there is none), the external name, or
// "<none>".
func serviceExternalIP(svc *corev1.Service, wide bool) string {
	switch serviceType(svc) {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		lb := loadBalancerAddresses(svc.Status.LoadBalancer.Ingress, wide)
		if len(svc.Spec.ExternalIPs) > 0 {
			var all []string
			if lb != "" {
				all = append(all, strings.Split(lb, ",")...)
			}
			return strings.Join(append(all, svc.Spec.ExternalIPs...), ",")
		}
		if lb != "" {
			return lb
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// loadBalancerAddresses joins the sorted, de-duplicated IPs (or hostnames)
// of a load balancer, clipped to 16 characters unless wide.
func loadBalancerAddresses(ingress []corev1.LoadBalancerIngress, wide bool) string {
	set := map[string]bool{}
	for _, in := range ingress {
		if in.IP != "" {
			set[in.IP] = true
		} else if in.Hostname != "" {
			set[in.Hostname] = true
		}
	}
	return joinClipped(set, wide)
}

func joinClipped(set map[string]bool, wide bool) string {
	list := make([]string, 0, len(set))
	for s := range set {
		list = append(list, s)
	}
	sort.Strings(list)
	r := strings.Join(list, ",")
	if !wide && len(r) > loadBalancerWidth {
		r = r[:loadBalancerWidth-3] + "..."
	}
	return r
}

var endpointsTable = tableKind{
	columns: []column{{name: "Name"}, {name: "Endpoints"}, {name: "Age"}},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		ep, ok := obj.(*corev1.Endpoints)
		if !ok {
			return nil, fmt.Errorf("expected *v1.Endpoints, got %T", obj)
		}
		return []string{ep.Name, formatEndpoints(ep), Age(ep.CreationTimestamp.Time, ctx.now)}, nil
	},
}

// formatEndpoints lists up to three ip:port pairs, then " + N more...".
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	more := false
	count := 0
	add := func(s string) {
		if len(list) == max {
			more = true
			return
		}
		list = append(list, s)
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			// Headless services may have no ports.
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	return ret
}

var endpointSliceTable = tableKind{
	columns: []column{{name: "Name"}, {name: "AddressType"}, {name: "Ports"}, {name: "Endpoints"}, {name: "Age"}},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil, fmt.Errorf("expected *discovery/v1.EndpointSlice, got %T", obj)
		}
		return []string{s.Name, string(s.AddressType), formatSlicePorts(s.Ports), formatSliceEndpoints(s.Endpoints),
			Age(s.CreationTimestamp.Time, ctx.now)}, nil
	},
}

// formatSlicePorts lists up to three port numbers (a name, "*" without
// either), then " + N more...", as kubectl does; "<unset>" for none.
func formatSlicePorts(ports []discoveryv1.EndpointPort) string {
	var list []string
	for _, p := range ports {
		switch {
		case p.Port != nil:
			list = append(list, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			list = append(list, *p.Name)
		default:
			list = append(list, "*")
		}
	}
	return listWithMore(list, 3)
}

// formatSliceEndpoints lists up to three addresses, then " + N more...";
// "<unset>" for none.
func formatSliceEndpoints(endpoints []discoveryv1.Endpoint) string {
	var list []string
	for _, e := range endpoints {
		list = append(list, e.Addresses...)
	}
	return listWithMore(list, 3)
}

func listWithMore(list []string, max int) string {
	if len(list) == 0 {
		return "<unset>"
	}
	if len(list) > max {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:max], ","), len(list)-max)
	}
	return strings.Join(list, ",")
}

var ingressTable = tableKind{
	columns: []column{
		{name: "Name"},
		{name: "Class"},
		{name: "Hosts"},
		{name: "Address"},
		{name: "Ports"},
		{name: "Age"},
	},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		ing, ok := obj.(*networkingv1.Ingress)
		if !ok {
			return nil, fmt.Errorf("expected *networking/v1.Ingress, got %T", obj)
		}
		class := "<none>"
		if ing.Spec.IngressClassName != nil {
			class = *ing.Spec.IngressClassName
		}
		ports := "80"
		if len(ing.Spec.TLS) != 0 {
			ports = "80, 443"
		}
		return []string{
			ing.Name,
			class,
			ingressHosts(ing.Spec.Rules),
			ingressAddresses(ing.Status.LoadBalancer.Ingress, ctx.wide),
			ports,
			Age(ing.CreationTimestamp.Time, ctx.now),
		}, nil
	},
}

// ingressHosts lists up to three rule hosts, "*" when none is set.
func ingressHosts(rules []networkingv1.IngressRule) string {
	const max = 3
	var list []string
	more := false
	for _, r := range rules {
		if len(list) == max {
			more = true
		}
		if !more && r.Host != "" {
			list = append(list, r.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, len(rules)-max)
	}
	return ret
}

func ingressAddresses(ingress []networkingv1.IngressLoadBalancerIngress, wide bool) string {
	set := map[string]bool{}
	for _, in := range ingress {
		if in.IP != "" {
			set[in.IP] = true
		} else if in.Hostname != "" {
			set[in.Hostname] = true
		}
	}
	return joinClipped(set, wide)
}
