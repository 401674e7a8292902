package object

import (
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The limits of an EndpointSlice, as the Kubernetes API server has them.
const (
	maxSliceEndpoints = 1000
	maxSliceAddresses = 100
	maxSlicePorts     = 20000
)

// validateEndpointSlice checks an EndpointSlice as Kubernetes does on create:
// an address type, addresses of that type, hostnames that are DNS labels, and
// unique, valid ports.
func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := oneOf(field.NewPath("addressType"), s.AddressType, false,
		discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN)
	ep := field.NewPath("endpoints")
	if len(s.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(ep, len(s.Endpoints), maxSliceEndpoints))
	}
	for i, e := range s.Endpoints {
		p := ep.Index(i)
		if len(e.Addresses) == 0 || len(e.Addresses) > maxSliceAddresses {
			errs = append(errs, field.Invalid(p.Child("addresses"), len(e.Addresses), fmt.Sprintf("must hold 1 to %d addresses", maxSliceAddresses)))
		}
		for j, a := range e.Addresses {
			ap := p.Child("addresses").Index(j)
			switch s.AddressType {
			case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
				ip := net.ParseIP(a)
				if ip == nil || (ip.To4() != nil) != (s.AddressType == discoveryv1.AddressTypeIPv4) {
					errs = append(errs, field.Invalid(ap, a, "must be an "+string(s.AddressType)+" address"))
				}
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, validation.IsFullyQualifiedDomainName(ap, a)...)
			}
		}
		if e.Hostname != nil {
			errs = append(errs, invalidEach(p.Child("hostname"), *e.Hostname, validation.IsDNS1123Label(*e.Hostname))...)
		}
	}
	pp := field.NewPath("ports")
	if len(s.Ports) > maxSlicePorts {
		errs = append(errs, field.TooMany(pp, len(s.Ports), maxSlicePorts))
	}
	names := map[string]bool{}
	for i, port := range s.Ports {
		p := pp.Index(i)
		if port.Name != nil {
			if names[*port.Name] {
				errs = append(errs, field.Duplicate(p.Child("name"), *port.Name))
			}
			names[*port.Name] = true
			if *port.Name != "" {
				errs = append(errs, invalidEach(p.Child("name"), *port.Name, validation.IsDNS1123Label(*port.Name))...)
			}
		}
		if port.Protocol != nil {
			errs = append(errs, oneOf(p.Child("protocol"), *port.Protocol, false, corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)...)
		}
		if port.Port != nil {
			errs = append(errs, invalidEach(p.Child("port"), *port.Port, validation.IsValidPortNum(int(*port.Port)))...)
		}
	}
	return errs
}
