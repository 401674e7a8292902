// Package ingress is wake's ingress controller data plane: the pure routing of
// Ingress rules (class, host, path, backend), the choice of a TLS certificate
// by SNI, the resolution of a backend to the ready endpoints of its Service,
// and the reverse proxy (net/http/httputil) that every node agent runs on its
// host ports.
//
// The agent folds Ingresses, IngressClasses, Services and EndpointSlices into
// a projection and hands a Snapshot of them to Proxy.Update after every
// commit, so routes and endpoints follow the log live.
package ingress

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
)

// The class wake serves: the IngressClass named ClassName whose controller is
// Controller. The ingress controller creates it (marked as the default class)
// once a node runs; until it exists an Ingress without a class, or naming
// ClassName, is wake's.
const (
	ClassName  = "wake"
	Controller = "wake.run/ingress-controller"
	// DefaultClassAnnotation marks the cluster's default IngressClass.
	DefaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
	// LegacyClassAnnotation is the class an Ingress named before
	// spec.ingressClassName existed.
	LegacyClassAnnotation = "kubernetes.io/ingress.class"
)

// IsDefaultClass says whether an IngressClass is marked as the default.
func IsDefaultClass(c *networkingv1.IngressClass) bool {
	return c.Annotations[DefaultClassAnnotation] == "true"
}

// Ours says whether wake serves ing, given the cluster's IngressClasses by
// name; when it does not, why not (a sentence for the Ingress's events).
//
// The class is spec.ingressClassName, else the legacy annotation, else the
// default class (the newest marked, as Kubernetes' admission picks it). A
// class is wake's when its IngressClass names Controller; the class named
// ClassName, and no class at all, are wake's while no such IngressClass exists
// (wake's class is the default before it is created).
func Ours(ing *networkingv1.Ingress, classes map[string]*networkingv1.IngressClass) (bool, string) {
	name := ""
	switch {
	case ing.Spec.IngressClassName != nil:
		name = *ing.Spec.IngressClassName
	case ing.Annotations[LegacyClassAnnotation] != "":
		name = ing.Annotations[LegacyClassAnnotation]
	default:
		def := DefaultClass(classes)
		if def == nil {
			return true, ""
		}
		name = def.Name
	}
	c := classes[name]
	switch {
	case c == nil && name == ClassName:
		return true, ""
	case c == nil:
		return false, fmt.Sprintf("IngressClass %q does not exist: wake serves the class %q (controller %s); the Ingress is left alone", name, ClassName, Controller)
	case c.Spec.Controller != Controller:
		return false, fmt.Sprintf("IngressClass %q belongs to controller %s, not %s: the Ingress is left alone", name, c.Spec.Controller, Controller)
	}
	return true, ""
}

// DefaultClass is the default IngressClass: the newest of those marked, the
// first by name among equals (nil when none is marked).
func DefaultClass(classes map[string]*networkingv1.IngressClass) *networkingv1.IngressClass {
	var best *networkingv1.IngressClass
	for _, c := range classes {
		if !IsDefaultClass(c) {
			continue
		}
		if best == nil || c.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(c.CreationTimestamp.Equal(&best.CreationTimestamp) && c.Name < best.Name) {
			best = c
		}
	}
	return best
}
