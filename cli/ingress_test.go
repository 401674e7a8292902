package cli

import (
	"strings"
	"testing"
	"time"
)

const ingressYAML = `apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets: [{addresses: [{ip: 10.66.25.7}, {ip: 10.66.25.8}], ports: [{name: http, port: 8080}]}]
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: web.test
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other}
spec:
  ingressClassName: nginx
  defaultBackend: {service: {name: web, port: {name: http}}}
`

func TestDescribeAndGetIngress(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("ing.yaml", ingressYAML))
	out := h.ok("describe", "ing", "web").out
	for _, want := range []string{"Ingress Class:    <none>\n", "web.test    \n", "/   web:80 (10.66.25.7:8080,10.66.25.8:8080)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe ing web lacks %q:\n%s", want, out)
		}
	}
	// The controller creates wake's class with the first Ingress and notes
	// why it leaves another class's Ingress alone, in an event describe shows.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out = h.ok("describe", "ing", "other").out
		if strings.Contains(out, `IngressClass "nginx" belongs to controller k8s.io/ingress-nginx, not wake.run/ingress-controller: the Ingress is left alone`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("describe ing other has no event saying why it is left alone:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out, "Default backend:  web:http (10.66.25.7:8080,10.66.25.8:8080)\n") {
		t.Errorf("describe ing other:\n%s", out)
	}
	get := h.ok("get", "ingressclass").out
	if !strings.Contains(get, "wake") || !strings.Contains(get, "wake.run/ingress-controller") {
		t.Errorf("get ingressclass:\n%s", get)
	}
	rows := lines(h.ok("get", "ing").out)
	if len(rows) != 3 || strings.Join(rows[0], " ") != "NAME CLASS HOSTS ADDRESS PORTS AGE" {
		t.Fatalf("get ing:\n%v", rows)
	}
}
