package object

import (
	"fmt"
	"net/netip"

	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The bounds Kubernetes puts on an EndpointSlice.
const (
	maxSliceEndpoints = 1000
	maxSlicePorts     = 100
	maxSliceAddresses = 100
)

func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := oneOf(field.NewPath("addressType"), s.AddressType, false,
		discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN)
	if s.AddressType == "" {
		errs = field.ErrorList{field.Required(field.NewPath("addressType"), "IPv4, IPv6 or FQDN")}
	}
	ep := field.NewPath("endpoints")
	if len(s.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(ep, len(s.Endpoints), maxSliceEndpoints))
	}
	for i, e := range s.Endpoints {
		p := ep.Index(i)
		if len(e.Addresses) == 0 || len(e.Addresses) > maxSliceAddresses {
			errs = append(errs, field.Invalid(p.Child("addresses"), len(e.Addresses), fmt.Sprintf("must have between 1 and %d addresses", maxSliceAddresses)))
		}
		for j, a := range e.Addresses {
			ap := p.Child("addresses").Index(j)
			switch s.AddressType {
			case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
				ip, err := netip.ParseAddr(a)
				if err != nil || ip.Is4() != (s.AddressType == discoveryv1.AddressTypeIPv4) || ip.Zone() != "" {
					errs = append(errs, field.Invalid(ap, a, "must be a valid "+string(s.AddressType)+" address"))
				}
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, invalidEach(ap, a, validation.IsDNS1123Subdomain(a))...)
			}
		}
		if e.Hostname != nil {
			errs = append(errs, invalidEach(p.Child("hostname"), *e.Hostname, validation.IsDNS1123Label(*e.Hostname))...)
		}
		if e.NodeName != nil && *e.NodeName != "" {
			errs = append(errs, invalidEach(p.Child("nodeName"), *e.NodeName, apivalidation.NameIsDNSSubdomain(*e.NodeName, false))...)
		}
	}
	pp := field.NewPath("ports")
	if len(s.Ports) > maxSlicePorts {
		errs = append(errs, field.TooMany(pp, len(s.Ports), maxSlicePorts))
	}
	names := map[string]bool{}
	for i, port := range s.Ports {
		p := pp.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		switch {
		case names[name]:
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		case name != "":
			errs = append(errs, invalidEach(p.Child("name"), name, validation.IsDNS1123Label(name))...)
		}
		names[name] = true
		if port.Port != nil {
			errs = append(errs, validatePortNumber(p.Child("port"), *port.Port)...)
		}
		if port.Protocol != nil {
			errs = append(errs, validateProtocol(p.Child("protocol"), *port.Protocol)...)
		}
	}
	return errs
}
