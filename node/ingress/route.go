package ingress

import (
	"net"
	"sort"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// Backend is where a request goes: a Service's port, in the namespace of the
// Ingress that named it.
type Backend struct {
	Namespace string
	Service   string
	Port      networkingv1.ServiceBackendPort
	// Ingress is the namespace/name of the Ingress of the rule, for messages.
	Ingress string
}

// Key identifies the backend (namespace/service:port).
func (b Backend) Key() string {
	port := b.Port.Name
	if port == "" {
		port = strconv.Itoa(int(b.Port.Number))
	}
	return b.Namespace + "/" + b.Service + ":" + port
}

// path is one path rule.
type path struct {
	path    string // "/" for the root; a Prefix path without its trailing "/"
	exact   bool
	backend Backend
}

// Table routes requests by the rules of a set of Ingresses (all of wake's
// class). Build it with NewTable; it is immutable.
type Table struct {
	exact    map[string][]path // host -> paths
	wildcard map[string][]path // "foo.com" for "*.foo.com" -> paths
	any      []path            // rules without a host
	def      *Backend
}

// NewTable builds the routes of ings. Where rules of several Ingresses meet
// (the same host and path), the oldest Ingress wins, then the first by
// namespace/name, as ingress-nginx merges them; the default backend is the
// oldest Ingress's spec.defaultBackend. Service backends are routed; resource
// backends are not (wake serves no resource kinds behind an Ingress).
func NewTable(ings []*networkingv1.Ingress) *Table {
	sorted := append([]*networkingv1.Ingress(nil), ings...)
	sort.SliceStable(sorted, func(i, j int) bool { return older(sorted[i], sorted[j]) })
	t := &Table{exact: map[string][]path{}, wildcard: map[string][]path{}}
	for _, ing := range sorted {
		id := ing.Namespace + "/" + ing.Name
		if t.def == nil && ing.Spec.DefaultBackend != nil && ing.Spec.DefaultBackend.Service != nil {
			b := backendOf(ing, id, ing.Spec.DefaultBackend)
			t.def = &b
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				if p.Backend.Service == nil {
					continue
				}
				rule := path{path: p.Path, exact: p.PathType != nil && *p.PathType == networkingv1.PathTypeExact,
					backend: backendOf(ing, id, &p.Backend)}
				if !rule.exact {
					rule.path = strings.TrimRight(rule.path, "/")
					if rule.path == "" {
						rule.path = "/"
					}
				}
				host := strings.ToLower(r.Host)
				switch {
				case host == "":
					t.any = append(t.any, rule)
				case strings.HasPrefix(host, "*."):
					t.wildcard[host[2:]] = append(t.wildcard[host[2:]], rule)
				default:
					t.exact[host] = append(t.exact[host], rule)
				}
			}
		}
	}
	return t
}

func older(a, b *networkingv1.Ingress) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

func backendOf(ing *networkingv1.Ingress, id string, b *networkingv1.IngressBackend) Backend {
	return Backend{Namespace: ing.Namespace, Service: b.Service.Name, Port: b.Service.Port, Ingress: id}
}

// Route returns the backend of a request for host (a Host header: a port and
// a trailing dot are ignored, case too) and the URL path p.
//
// The rules of the exact host are tried first, then those of a wildcard host
// ("*.foo.com" matches "bar.foo.com", one label only, not "foo.com"), then the
// rules without a host; within one host the longest matching path wins, and an
// Exact path beats a Prefix path of the same length. A Prefix path matches by
// path elements ("/foo" matches "/foo" and "/foo/bar", not "/foobar"), and so
// does ImplementationSpecific. With no match, the default backend; false when
// there is none either (the proxy answers 404, as Kubernetes' default backend).
func (t *Table) Route(host, p string) (Backend, bool) {
	host = normalHost(host)
	if p == "" {
		p = "/"
	}
	if b, ok := match(t.exact[host], p); ok {
		return b, true
	}
	if _, parent, ok := strings.Cut(host, "."); ok && parent != "" {
		if b, ok := match(t.wildcard[parent], p); ok {
			return b, true
		}
	}
	if b, ok := match(t.any, p); ok {
		return b, true
	}
	if t.def != nil {
		return *t.def, true
	}
	return Backend{}, false
}

// match picks the best path of rules for p: longest first, Exact before
// Prefix, then the earlier rule (the older Ingress).
func match(rules []path, p string) (Backend, bool) {
	best, bestLen, bestExact := -1, -1, false
	for i, r := range rules {
		var n int
		switch {
		case r.exact:
			if p != r.path {
				continue
			}
			n = len(r.path)
		case r.path == "/":
			n = 1
		case p == r.path || strings.HasPrefix(p, r.path+"/"):
			n = len(r.path)
		default:
			continue
		}
		if n > bestLen || (n == bestLen && r.exact && !bestExact) {
			best, bestLen, bestExact = i, n, r.exact
		}
	}
	if best < 0 {
		return Backend{}, false
	}
	return rules[best].backend, true
}

// normalHost lowercases a Host header and drops its port and trailing dot.
func normalHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// hostMatches says whether a rule or TLS host (maybe "*.foo.com") covers name.
func hostMatches(pattern, name string) bool {
	pattern = strings.ToLower(pattern)
	if strings.HasPrefix(pattern, "*.") {
		_, parent, ok := strings.Cut(name, ".")
		return ok && parent == pattern[2:]
	}
	return pattern == name
}
