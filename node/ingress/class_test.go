package ingress

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var corev1TypedRef = corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}

func class(name, controller string, def bool, age int) *networkingv1.IngressClass {
	c := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name,
		CreationTimestamp: metav1.NewTime(time.Unix(1000, 0).Add(time.Duration(-age) * time.Hour))},
		Spec: networkingv1.IngressClassSpec{Controller: controller}}
	if def {
		c.Annotations = map[string]string{DefaultClassAnnotation: "true"}
	}
	return c
}

func classes(cs ...*networkingv1.IngressClass) map[string]*networkingv1.IngressClass {
	m := map[string]*networkingv1.IngressClass{}
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

func TestOurs(t *testing.T) {
	named := func(n string) *networkingv1.Ingress {
		i := ing("i", 0, "svc")
		i.Spec.IngressClassName = &n
		return i
	}
	legacy := ing("i", 0, "svc")
	legacy.Annotations = map[string]string{LegacyClassAnnotation: "nginx"}
	none := ing("i", 0, "svc")
	wake := class(ClassName, Controller, true, 2)
	nginx := class("nginx", "k8s.io/ingress-nginx", false, 1)
	nginxDefault := class("nginx", "k8s.io/ingress-nginx", true, 1)
	tests := []struct {
		name    string
		ing     *networkingv1.Ingress
		classes map[string]*networkingv1.IngressClass
		ours    bool
		reason  string // a part of the reason when not ours
	}{
		{"no class and no IngressClass at all: wake is the default", none, nil, true, ""},
		{"no class, wake's class is the default", none, classes(wake, nginx), true, ""},
		{"no class, another default class", none, classes(class(ClassName, Controller, false, 2), nginxDefault), false, "k8s.io/ingress-nginx"},
		{"the newest default wins", none, classes(wake, nginxDefault), false, "k8s.io/ingress-nginx"},
		{"named wake before the class exists", named(ClassName), nil, true, ""},
		{"named wake", named(ClassName), classes(wake), true, ""},
		{"a class of wake's controller under another name", named("mine"), classes(class("mine", Controller, false, 1)), true, ""},
		{"another controller's class", named("nginx"), classes(wake, nginx), false, `IngressClass "nginx" belongs to controller k8s.io/ingress-nginx`},
		{"a class that does not exist", named("traefik"), classes(wake), false, `IngressClass "traefik" does not exist`},
		{"the legacy annotation", legacy, classes(wake, nginx), false, "k8s.io/ingress-nginx"},
		{"wake's name taken by another controller", named(ClassName), classes(class(ClassName, "other", false, 0)), false, "belongs to controller other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours, reason := Ours(tt.ing, tt.classes)
			if ours != tt.ours || (!ours && !strings.Contains(reason, tt.reason)) || (ours && reason != "") {
				t.Errorf("Ours = %v, %q; want %v, containing %q", ours, reason, tt.ours, tt.reason)
			}
		})
	}
}

func TestSelectTLS(t *testing.T) {
	refs := []TLSRef{
		{Namespace: "a", Secret: "wild", Hosts: []string{"*.example.com"}},
		{Namespace: "a", Secret: "foo", Hosts: []string{"foo.example.com", "foo.test"}},
		{Namespace: "b", Secret: "catchall"},
	}
	tests := []struct {
		name, sni, want string
	}{
		{"exact beats an earlier wildcard", "foo.example.com", "a/foo"},
		{"second host of an entry", "FOO.test", "a/foo"},
		{"wildcard", "bar.example.com", "a/wild"},
		{"wildcard is one label", "a.b.example.com", "b/catchall"},
		{"no SNI takes the entry without hosts", "", "b/catchall"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := SelectTLS(refs, tt.sni)
			if !ok || got.SecretKey() != tt.want {
				t.Errorf("SelectTLS(%q) = %v %v, want %s", tt.sni, got.SecretKey(), ok, tt.want)
			}
		})
	}
	if got, ok := SelectTLS(refs[:2], "other.test"); ok {
		t.Errorf("an uncovered name chose %s", got.SecretKey())
	}
}

func TestTLSRefsOldestFirstWithoutPassthrough(t *testing.T) {
	young, old := ing("young", 1, "svc"), ing("old", 5, "svc")
	young.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"x.test"}, SecretName: "young-cert"}}
	old.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"x.test"}, SecretName: "old-cert"}, {Hosts: []string{"y.test"}}}
	refs := TLSRefs([]*networkingv1.Ingress{young, old})
	if len(refs) != 2 || refs[0].Secret != "old-cert" || refs[1].Secret != "young-cert" {
		t.Fatalf("refs %+v", refs)
	}
}
