package object

import (
	"net/netip"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateEndpointSlice is a minimal check of an EndpointSlice (its address
// type, and addresses of that type), so that the kind folds at all; the
// endpoints controller's branch brings the full validation (take its file at
// merge).
func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := oneOf(field.NewPath("addressType"), s.AddressType, false,
		discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN)
	for i, e := range s.Endpoints {
		for j, a := range e.Addresses {
			if s.AddressType == discoveryv1.AddressTypeFQDN {
				continue
			}
			ip, err := netip.ParseAddr(a)
			if err != nil || ip.Is4() != (s.AddressType == discoveryv1.AddressTypeIPv4) {
				errs = append(errs, field.Invalid(field.NewPath("endpoints").Index(i).Child("addresses").Index(j), a, "must be a valid "+string(s.AddressType)+" address"))
			}
		}
	}
	return errs
}
