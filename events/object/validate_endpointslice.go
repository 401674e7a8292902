package object

import (
	"net/netip"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateEndpointSlice checks what the service proxy and DNS read of a slice:
// its address type, each endpoint's addresses (1 to 100, of that type) and
// its ports.
func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	switch es.AddressType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
	case "":
		errs = append(errs, field.Required(field.NewPath("addressType"), "IPv4, IPv6 or FQDN"))
	default:
		errs = append(errs, field.NotSupported(field.NewPath("addressType"), es.AddressType, []string{"IPv4", "IPv6", "FQDN"}))
	}
	for i, e := range es.Endpoints {
		p := field.NewPath("endpoints").Index(i).Child("addresses")
		if len(e.Addresses) == 0 || len(e.Addresses) > 100 {
			errs = append(errs, field.Invalid(p, len(e.Addresses), "must have 1 to 100 addresses"))
		}
		for j, a := range e.Addresses {
			ip, err := netip.ParseAddr(a)
			switch {
			case es.AddressType == discoveryv1.AddressTypeIPv4 && (err != nil || !ip.Is4()):
				errs = append(errs, field.Invalid(p.Index(j), a, "must be an IPv4 address"))
			case es.AddressType == discoveryv1.AddressTypeIPv6 && (err != nil || !ip.Is6()):
				errs = append(errs, field.Invalid(p.Index(j), a, "must be an IPv6 address"))
			}
		}
	}
	for i, port := range es.Ports {
		pp := field.NewPath("ports").Index(i)
		if port.Port != nil {
			errs = append(errs, validatePortNumber(pp.Child("port"), *port.Port)...)
		}
		if port.Protocol != nil {
			errs = append(errs, validateProtocol(pp.Child("protocol"), *port.Protocol)...)
		}
	}
	return errs
}
