package object

import (
	"net"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateIngress(ing *networkingv1.Ingress) field.ErrorList {
	p := field.NewPath("spec")
	spec := &ing.Spec
	var errs field.ErrorList
	if spec.DefaultBackend == nil && len(spec.Rules) == 0 {
		errs = append(errs, field.Required(p, "either `defaultBackend` or `rules` must be specified"))
	}
	if c := spec.IngressClassName; c != nil {
		errs = append(errs, invalidEach(p.Child("ingressClassName"), *c, apivalidation.NameIsDNSSubdomain(*c, false))...)
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(p.Child("defaultBackend"), spec.DefaultBackend)...)
	}
	for i, tls := range spec.TLS {
		tp := p.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			errs = append(errs, validateIngressHost(tp.Child("hosts").Index(j), host)...)
		}
		if tls.SecretName != "" {
			errs = append(errs, invalidEach(tp.Child("secretName"), tls.SecretName, apivalidation.NameIsDNSSubdomain(tls.SecretName, false))...)
		}
	}
	for i, rule := range spec.Rules {
		rp := p.Child("rules").Index(i)
		if rule.Host != "" {
			errs = append(errs, validateIngressHost(rp.Child("host"), rule.Host)...)
		}
		if rule.HTTP == nil {
			continue
		}
		if len(rule.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(rp.Child("http", "paths"), ""))
		}
		for j, path := range rule.HTTP.Paths {
			errs = append(errs, validateIngressPath(rp.Child("http", "paths").Index(j), &path)...)
		}
	}
	return errs
}

// validateIngressHost allows a DNS subdomain, optionally with a leading "*." label.
func validateIngressHost(p *field.Path, host string) field.ErrorList {
	if net.ParseIP(host) != nil {
		return field.ErrorList{field.Invalid(p, host, "must be a DNS name, not an IP address")}
	}
	if strings.Contains(host, "*") {
		return invalidEach(p, host, validation.IsWildcardDNS1123Subdomain(host))
	}
	return invalidEach(p, host, validation.IsDNS1123Subdomain(host))
}

func validateIngressPath(p *field.Path, path *networkingv1.HTTPIngressPath) field.ErrorList {
	var errs field.ErrorList
	if path.PathType == nil {
		errs = append(errs, field.Required(p.Child("pathType"), "pathType must be specified: Exact, Prefix or ImplementationSpecific"))
	} else {
		errs = append(errs, oneOf(p.Child("pathType"), *path.PathType, false,
			networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific, networkingv1.PathTypePrefix)...)
	}
	implementationSpecific := path.PathType != nil && *path.PathType == networkingv1.PathTypeImplementationSpecific
	if !strings.HasPrefix(path.Path, "/") && (path.Path != "" || !implementationSpecific) {
		errs = append(errs, field.Invalid(p.Child("path"), path.Path, "must be an absolute path"))
	}
	return append(errs, validateIngressBackend(p.Child("backend"), &path.Backend)...)
}

// validateIngressBackend checks that a backend is exactly one of a service (with a
// port name or number) or a resource.
func validateIngressBackend(p *field.Path, b *networkingv1.IngressBackend) field.ErrorList {
	switch {
	case b.Service != nil && b.Resource != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both `service` and `resource` backends")}
	case b.Resource != nil:
		var errs field.ErrorList
		if b.Resource.Kind == "" {
			errs = append(errs, field.Required(p.Child("resource", "kind"), ""))
		}
		if b.Resource.Name == "" {
			errs = append(errs, field.Required(p.Child("resource", "name"), ""))
		}
		return errs
	case b.Service != nil:
		sp := p.Child("service")
		var errs field.ErrorList
		if b.Service.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		} else {
			errs = append(errs, invalidEach(sp.Child("name"), b.Service.Name, apivalidation.NameIsDNS1035Label(b.Service.Name, false))...)
		}
		port := b.Service.Port
		switch {
		case port.Name != "" && port.Number != 0:
			errs = append(errs, field.Invalid(sp.Child("port"), port, "cannot set both port name & port number"))
		case port.Name != "":
			errs = append(errs, invalidEach(sp.Child("port", "name"), port.Name, validation.IsValidPortName(port.Name))...)
		case port.Number != 0:
			errs = append(errs, validatePortNumber(sp.Child("port", "number"), port.Number)...)
		default:
			errs = append(errs, field.Required(sp.Child("port"), "port name or number is required"))
		}
		return errs
	}
	return field.ErrorList{field.Required(p, "a backend needs a `service` or a `resource`")}
}

// validateIngressClass checks an IngressClass as the API server does: a
// controller that is a domain-prefixed path of at most 250 characters, and
// parameters with a kind and a name.
func validateIngressClass(c *networkingv1.IngressClass) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	switch ctl := c.Spec.Controller; {
	case ctl == "":
		errs = append(errs, field.Required(p.Child("controller"), "the controller that serves this class, e.g. wake.run/ingress-controller"))
	case len(ctl) > 250:
		errs = append(errs, field.TooLong(p.Child("controller"), "", 250))
	default:
		errs = append(errs, validation.IsDomainPrefixedPath(p.Child("controller"), ctl)...)
	}
	if params := c.Spec.Parameters; params != nil {
		pp := p.Child("parameters")
		if params.Kind == "" {
			errs = append(errs, field.Required(pp.Child("kind"), ""))
		}
		if params.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		}
		if params.Scope != nil && *params.Scope != networkingv1.IngressClassParametersReferenceScopeCluster &&
			*params.Scope != networkingv1.IngressClassParametersReferenceScopeNamespace {
			errs = append(errs, field.NotSupported(pp.Child("scope"), *params.Scope, []string{"Cluster", "Namespace"}))
		}
	}
	return errs
}
