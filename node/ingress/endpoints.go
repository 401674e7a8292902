package ingress

import (
	"fmt"
	"net"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// ServiceNameLabel names a slice's Service (discovery.k8s.io/v1).
const ServiceNameLabel = discoveryv1.LabelServiceName

// Endpoints returns the addresses (ip:port) a backend forwards to: the ready
// endpoints of svc's EndpointSlices for the Service port the backend names
// (by number or by name), on the slice port of the same name. An endpoint
// without a ready condition is ready, as Kubernetes reads it. An ExternalName
// Service forwards to its name on the port. The error says what is missing.
func Endpoints(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, port networkingv1.ServiceBackendPort) ([]string, error) {
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (port.Name != "" && p.Name == port.Name) || (port.Name == "" && p.Port == port.Number) {
			sp = p
			break
		}
	}
	if sp == nil {
		want := port.Name
		if want == "" {
			want = strconv.Itoa(int(port.Number))
		}
		return nil, fmt.Errorf("service %s/%s has no port %s", svc.Namespace, svc.Name, want)
	}
	if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
		return nil, fmt.Errorf("service %s/%s port %s is %s: an Ingress forwards HTTP over TCP only", svc.Namespace, svc.Name, sp.Name, sp.Protocol)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return []string{net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(sp.Port)))}, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range slices {
		if s.Labels[ServiceNameLabel] != svc.Name || s.Namespace != svc.Namespace {
			continue
		}
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		target := int32(-1)
		for _, p := range s.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			if name == sp.Name && proto == corev1.ProtocolTCP && p.Port != nil {
				target = *p.Port
				break
			}
		}
		if target < 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			for _, a := range e.Addresses {
				hp := net.JoinHostPort(a, strconv.Itoa(int(target)))
				if !seen[hp] {
					seen[hp] = true
					out = append(out, hp)
				}
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("service %s/%s has no ready endpoints for port %s", svc.Namespace, svc.Name, portName(sp))
	}
	return out, nil
}

func portName(sp *corev1.ServicePort) string {
	if sp.Name != "" {
		return sp.Name
	}
	return strconv.Itoa(int(sp.Port))
}
