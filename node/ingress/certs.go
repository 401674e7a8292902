package ingress

import (
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// TLSRef is one spec.tls entry: the Secret (in the Ingress's namespace) that
// terminates TLS for Hosts.
type TLSRef struct {
	Namespace, Secret string
	Hosts             []string
}

// SecretKey is namespace/name of the entry's Secret.
func (r TLSRef) SecretKey() string { return r.Namespace + "/" + r.Secret }

// TLSRefs lists the TLS entries of ings, oldest Ingress first; entries
// without a Secret (SNI passthrough in other controllers) are left out.
func TLSRefs(ings []*networkingv1.Ingress) []TLSRef {
	sorted := append([]*networkingv1.Ingress(nil), ings...)
	sort.SliceStable(sorted, func(i, j int) bool { return older(sorted[i], sorted[j]) })
	var out []TLSRef
	for _, ing := range sorted {
		for _, t := range ing.Spec.TLS {
			if t.SecretName == "" {
				continue
			}
			out = append(out, TLSRef{Namespace: ing.Namespace, Secret: t.SecretName, Hosts: t.Hosts})
		}
	}
	return out
}

// SelectTLS picks the entry whose certificate answers a TLS hello for
// serverName (SNI): an exact host first, then a wildcard host, then an entry
// without hosts (it covers every host of its Ingress, as Kubernetes defines
// an empty hosts list); the oldest Ingress among equals. False when none
// covers the name: the proxy then answers with its own self-signed
// certificate, as ingress-nginx answers with its fake one.
func SelectTLS(refs []TLSRef, serverName string) (TLSRef, bool) {
	name := strings.TrimSuffix(strings.ToLower(serverName), ".")
	for _, pass := range []func(h string) bool{
		func(h string) bool { return !strings.HasPrefix(h, "*.") && hostMatches(h, name) },
		func(h string) bool { return strings.HasPrefix(h, "*.") && hostMatches(h, name) },
	} {
		for _, r := range refs {
			for _, h := range r.Hosts {
				if pass(h) {
					return r, true
				}
			}
		}
	}
	for _, r := range refs {
		if len(r.Hosts) == 0 {
			return r, true
		}
	}
	return TLSRef{}, false
}
