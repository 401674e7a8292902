package object

import (
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// The node port range of a default Kubernetes API server.
	minNodePort = 30000
	maxNodePort = 32767
	// The longest ClientIP session affinity Kubernetes allows: a day.
	maxClientIPAffinitySeconds = 86400
)

func validateService(s *corev1.Service) field.ErrorList {
	p := field.NewPath("spec")
	spec := &s.Spec
	errs := oneOf(p.Child("type"), spec.Type, false, corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName,
		corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort)
	headless := spec.ClusterIP == corev1.ClusterIPNone
	switch {
	case spec.Type == corev1.ServiceTypeExternalName:
		if spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(p.Child("clusterIP"), "may not be set when `type` is 'ExternalName'"))
		}
		name := strings.TrimSuffix(spec.ExternalName, ".")
		if name == "" {
			errs = append(errs, field.Required(p.Child("externalName"), "an ExternalName service needs the DNS name it aliases"))
		} else {
			errs = append(errs, invalidEach(p.Child("externalName"), spec.ExternalName, validation.IsDNS1123Subdomain(name))...)
		}
	case len(spec.Ports) == 0 && !headless:
		errs = append(errs, field.Required(p.Child("ports"), "a service needs at least one port unless it is headless (clusterIP: None)"))
	}
	if headless && spec.Type != corev1.ServiceTypeClusterIP && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Invalid(p.Child("clusterIP"), spec.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
	}
	if spec.ClusterIP != "" && !headless {
		errs = append(errs, validation.IsValidIP(p.Child("clusterIP"), spec.ClusterIP)...)
	}
	for i, ip := range spec.ClusterIPs {
		switch {
		case i == 0 && spec.ClusterIP != "" && ip != spec.ClusterIP:
			errs = append(errs, field.Invalid(p.Child("clusterIPs").Index(0), ip, "must be the same as `clusterIP`"))
		case i == 0 && ip == corev1.ClusterIPNone:
		default:
			errs = append(errs, validation.IsValidIP(p.Child("clusterIPs").Index(i), ip)...)
		}
	}
	errs = append(errs, validateServicePorts(p.Child("ports"), spec)...)
	errs = append(errs, oneOf(p.Child("sessionAffinity"), spec.SessionAffinity, false, corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone)...)
	if c := spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		if t := *c.ClientIP.TimeoutSeconds; t < 1 || t > maxClientIPAffinitySeconds {
			errs = append(errs, field.Invalid(p.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t,
				validation.InclusiveRangeError(1, maxClientIPAffinitySeconds)))
		}
	}
	errs = append(errs, metavalidation.ValidateLabels(spec.Selector, p.Child("selector"))...)
	for i, ip := range spec.ExternalIPs {
		errs = append(errs, validation.IsValidIP(p.Child("externalIPs").Index(i), ip)...)
	}
	if spec.ExternalTrafficPolicy != "" {
		externallyAccessible := spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer ||
			spec.Type == corev1.ServiceTypeClusterIP && len(spec.ExternalIPs) > 0
		if !externallyAccessible {
			errs = append(errs, field.Invalid(p.Child("externalTrafficPolicy"), spec.ExternalTrafficPolicy,
				"may only be set for externally-accessible services (NodePort, LoadBalancer, or with externalIPs)"))
		}
		errs = append(errs, oneOf(p.Child("externalTrafficPolicy"), spec.ExternalTrafficPolicy, false,
			corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)...)
	}
	if spec.InternalTrafficPolicy != nil {
		errs = append(errs, oneOf(p.Child("internalTrafficPolicy"), *spec.InternalTrafficPolicy, false,
			corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)...)
	}
	for i, cidr := range spec.LoadBalancerSourceRanges {
		errs = append(errs, validation.IsValidCIDR(p.Child("loadBalancerSourceRanges").Index(i), strings.TrimSpace(cidr))...)
	}
	return errs
}

// validateServicePorts checks ports: names (DNS labels, required and unique when
// there are several), numbers, protocols, target ports, and node ports only where
// the type allocates them.
func validateServicePorts(p *field.Path, spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	seen := map[string]bool{}
	for i, port := range spec.Ports {
		pp := p.Index(i)
		switch {
		case port.Name == "" && len(spec.Ports) > 1:
			errs = append(errs, field.Required(pp.Child("name"), "each port needs a name when a service has more than one"))
		case port.Name == "":
		case names[port.Name]:
			errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
		default:
			errs = append(errs, invalidEach(pp.Child("name"), port.Name, validation.IsDNS1123Label(port.Name))...)
		}
		names[port.Name] = true
		errs = append(errs, validatePortNumber(pp.Child("port"), port.Port)...)
		errs = append(errs, validateProtocol(pp.Child("protocol"), port.Protocol)...)
		if key := fmt.Sprintf("%d/%s", port.Port, port.Protocol); seen[key] {
			errs = append(errs, field.Duplicate(pp, key))
		} else {
			seen[key] = true
		}
		// A targetPort defaulted from an invalid port would repeat the port's error.
		if spec.Type != corev1.ServiceTypeExternalName && port.TargetPort != intstr.FromInt32(port.Port) {
			errs = append(errs, validatePortNumOrName(pp.Child("targetPort"), port.TargetPort)...)
		}
		switch {
		case port.NodePort == 0:
		case spec.Type != corev1.ServiceTypeNodePort && spec.Type != corev1.ServiceTypeLoadBalancer:
			errs = append(errs, field.Forbidden(pp.Child("nodePort"), fmt.Sprintf("may not be used when `type` is '%s'", spec.Type)))
		case port.NodePort < minNodePort || port.NodePort > maxNodePort:
			errs = append(errs, field.Invalid(pp.Child("nodePort"), port.NodePort,
				fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", minNodePort, maxNodePort)))
		}
	}
	return errs
}

func validateEndpoints(e *corev1.Endpoints) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("subsets")
	for i, ss := range e.Subsets {
		sp := p.Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(sp, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(sp.Child("addresses").Index(j), a)...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(sp.Child("notReadyAddresses").Index(j), a)...)
		}
		names := map[string]bool{}
		for j, port := range ss.Ports {
			pp := sp.Child("ports").Index(j)
			switch {
			case port.Name == "" && len(ss.Ports) > 1:
				errs = append(errs, field.Required(pp.Child("name"), "each port needs a name when a subset has more than one"))
			case port.Name == "":
			case names[port.Name]:
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			default:
				errs = append(errs, invalidEach(pp.Child("name"), port.Name, validation.IsDNS1123Label(port.Name))...)
			}
			names[port.Name] = true
			errs = append(errs, validatePortNumber(pp.Child("port"), port.Port)...)
			errs = append(errs, validateProtocol(pp.Child("protocol"), port.Protocol)...)
		}
	}
	return errs
}

func validateEndpointAddress(p *field.Path, a corev1.EndpointAddress) field.ErrorList {
	errs := validation.IsValidIP(p.Child("ip"), a.IP)
	if ip := net.ParseIP(a.IP); len(errs) == 0 && ip != nil {
		switch {
		case ip.IsUnspecified():
			errs = append(errs, field.Invalid(p.Child("ip"), a.IP, "may not be unspecified (0.0.0.0, ::)"))
		case ip.IsLoopback():
			errs = append(errs, field.Invalid(p.Child("ip"), a.IP, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
		case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
			errs = append(errs, field.Invalid(p.Child("ip"), a.IP, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
		}
	}
	if a.Hostname != "" {
		errs = append(errs, invalidEach(p.Child("hostname"), a.Hostname, validation.IsDNS1123Label(a.Hostname))...)
	}
	if a.NodeName != nil && *a.NodeName != "" {
		errs = append(errs, invalidEach(p.Child("nodeName"), *a.NodeName, apivalidation.NameIsDNSSubdomain(*a.NodeName, false))...)
	}
	return errs
}
