package ingress

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func ptrTo[T any](v T) *T { return &v }

func service(name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
}

type ep struct {
	ip    string
	ready *bool
}

func slice(svc, name string, ports map[string]int32, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
		Labels: map[string]string{ServiceNameLabel: svc}}, AddressType: discoveryv1.AddressTypeIPv4}
	for n, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptrTo(n), Port: ptrTo(p)})
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}})
	}
	return s
}

func TestEndpoints(t *testing.T) {
	web := service("web", corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)},
		corev1.ServicePort{Name: "admin", Port: 9000})
	single := service("single", corev1.ServicePort{Port: 80})
	slices := []*discoveryv1.EndpointSlice{
		slice("web", "web-a", map[string]int32{"http": 8080, "admin": 9090}, ep{"10.0.0.2", nil}, ep{"10.0.0.1", ptrTo(true)}, ep{"10.0.0.3", ptrTo(false)}),
		slice("web", "web-b", map[string]int32{"http": 8080}, ep{"10.0.0.4", ptrTo(true)}, ep{"10.0.0.1", ptrTo(true)}),
		slice("other", "other-a", map[string]int32{"http": 1}, ep{"10.9.9.9", nil}),
		slice("single", "single-a", map[string]int32{"": 8080}, ep{"10.0.1.1", nil}),
	}
	ext := service("ext", corev1.ServicePort{Port: 443})
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.test"
	udp := service("dns", corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP})
	tests := []struct {
		name string
		svc  *corev1.Service
		port networkingv1.ServiceBackendPort
		want []string
		err  string
	}{
		{"by number, ready and unknown-ready endpoints of every slice, deduplicated", web, networkingv1.ServiceBackendPort{Number: 80},
			[]string{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.4:8080"}, ""},
		{"by name, on the slice port of that name", web, networkingv1.ServiceBackendPort{Name: "admin"},
			[]string{"10.0.0.1:9090", "10.0.0.2:9090"}, ""},
		{"an unnamed single port", single, networkingv1.ServiceBackendPort{Number: 80}, []string{"10.0.1.1:8080"}, ""},
		{"a port the service lacks", web, networkingv1.ServiceBackendPort{Number: 81}, nil, "service default/web has no port 81"},
		{"a name the service lacks", web, networkingv1.ServiceBackendPort{Name: "metrics"}, nil, "service default/web has no port metrics"},
		{"no endpoints", service("empty", corev1.ServicePort{Port: 80}), networkingv1.ServiceBackendPort{Number: 80}, nil,
			"service default/empty has no ready endpoints for port 80"},
		{"external name", ext, networkingv1.ServiceBackendPort{Number: 443}, []string{"example.test:443"}, ""},
		{"udp", udp, networkingv1.ServiceBackendPort{Name: "dns"}, nil, "service default/dns port dns is UDP: an Ingress forwards HTTP over TCP only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Endpoints(tt.svc, slices, tt.port)
			errText := ""
			if err != nil {
				errText = err.Error()
			}
			if errText != tt.err || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Endpoints = %v, %q; want %v, %q", got, errText, tt.want, tt.err)
			}
		})
	}
}
