package ingress

import (
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	prefix = networkingv1.PathTypePrefix
	exact  = networkingv1.PathTypeExact
	impl   = networkingv1.PathTypeImplementationSpecific
)

type rule struct {
	host string
	path string
	typ  networkingv1.PathType
	svc  string
}

func ing(name string, age int, def string, rules ...rule) *networkingv1.Ingress {
	i := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
		CreationTimestamp: metav1.NewTime(time.Unix(1000, 0).Add(time.Duration(-age) * time.Hour))}}
	if def != "" {
		i.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: def, Port: networkingv1.ServiceBackendPort{Number: 80}}}
	}
	for _, r := range rules {
		typ := r.typ
		i.Spec.Rules = append(i.Spec.Rules, networkingv1.IngressRule{Host: r.host, IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: r.path, PathType: &typ,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: r.svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}})
	}
	return i
}

func TestRoute(t *testing.T) {
	hosts := ing("hosts", 2, "",
		rule{"foo.example.com", "/", prefix, "foo"},
		rule{"bar.example.com", "/", prefix, "bar"},
		rule{"*.example.com", "/", prefix, "wild"},
		rule{"foo.example.com", "/api", prefix, "api"},
		rule{"foo.example.com", "/api/v1/", prefix, "v1"},
		rule{"foo.example.com", "/api/v1", exact, "v1-exact"},
		rule{"foo.example.com", "/static", impl, "static"},
		rule{"foo.example.com", "/login", exact, "login"},
		rule{"", "/any", prefix, "any"},
	)
	withDefault := ing("default", 1, "fallback", rule{"foo.example.com", "/", prefix, "younger-foo"})
	tests := []struct {
		name, host, path string
		ings             []*networkingv1.Ingress
		want             string // "" is no route (404)
	}{
		{"exact host", "foo.example.com", "/", []*networkingv1.Ingress{hosts}, "foo"},
		{"host is case-insensitive and ignores the port", "FOO.example.com:8443", "/x", []*networkingv1.Ingress{hosts}, "foo"},
		{"trailing dot", "bar.example.com.", "/", []*networkingv1.Ingress{hosts}, "bar"},
		{"wildcard covers one label", "baz.example.com", "/", []*networkingv1.Ingress{hosts}, "wild"},
		{"wildcard does not cover the bare domain", "example.com", "/", []*networkingv1.Ingress{hosts}, ""},
		{"wildcard does not cover two labels", "a.b.example.com", "/", []*networkingv1.Ingress{hosts}, ""},
		{"prefix by elements", "foo.example.com", "/api/x", []*networkingv1.Ingress{hosts}, "api"},
		{"prefix matches itself", "foo.example.com", "/api", []*networkingv1.Ingress{hosts}, "api"},
		{"prefix is not a string prefix", "foo.example.com", "/apix", []*networkingv1.Ingress{hosts}, "foo"},
		{"longest prefix wins", "foo.example.com", "/api/v1/users", []*networkingv1.Ingress{hosts}, "v1"},
		{"a trailing slash in the rule is ignored", "foo.example.com", "/api/v1/", []*networkingv1.Ingress{hosts}, "v1"},
		{"exact beats prefix of the same length", "foo.example.com", "/api/v1", []*networkingv1.Ingress{hosts}, "v1-exact"},
		{"exact needs the whole path", "foo.example.com", "/login/", []*networkingv1.Ingress{hosts}, "foo"},
		{"exact", "foo.example.com", "/login", []*networkingv1.Ingress{hosts}, "login"},
		{"implementation specific is a prefix", "foo.example.com", "/static/app.js", []*networkingv1.Ingress{hosts}, "static"},
		{"a host rule without a matching path falls to hostless rules", "bar.example.com", "/any/thing", []*networkingv1.Ingress{ing("h", 1, "", rule{"bar.example.com", "/only", exact, "only"}, rule{"", "/any", prefix, "any"})}, "any"},
		{"hostless rules for an unknown host", "unknown.test", "/any", []*networkingv1.Ingress{hosts}, "any"},
		{"unknown host without default backend", "unknown.test", "/", []*networkingv1.Ingress{hosts}, ""},
		{"unknown host goes to the default backend", "unknown.test", "/", []*networkingv1.Ingress{hosts, withDefault}, "fallback"},
		{"the older Ingress wins the same host and path", "foo.example.com", "/", []*networkingv1.Ingress{withDefault, hosts}, "foo"},
		{"empty path is the root", "foo.example.com", "", []*networkingv1.Ingress{hosts}, "foo"},
		{"no ingresses", "foo.example.com", "/", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := NewTable(tt.ings).Route(tt.host, tt.path)
			got := ""
			if ok {
				got = b.Service
			}
			if got != tt.want {
				t.Errorf("Route(%q, %q) = %q, want %q", tt.host, tt.path, got, tt.want)
			}
		})
	}
}

func TestRouteSkipsResourceBackends(t *testing.T) {
	i := ing("r", 1, "")
	i.Spec.Rules = []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
		Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
			Resource: &corev1TypedRef}}}}}}}
	if b, ok := NewTable([]*networkingv1.Ingress{i}).Route("x", "/"); ok {
		t.Fatalf("a resource backend was routed to %+v", b)
	}
}

func TestBackendKey(t *testing.T) {
	b := Backend{Namespace: "ns", Service: "web", Port: networkingv1.ServiceBackendPort{Number: 8080}}
	if b.Key() != "ns/web:8080" {
		t.Errorf("key %q", b.Key())
	}
	b.Port = networkingv1.ServiceBackendPort{Name: "http"}
	if b.Key() != "ns/web:http" {
		t.Errorf("key %q", b.Key())
	}
}
