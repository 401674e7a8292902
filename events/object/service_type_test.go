package object

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestDropTypeDependentFields(t *testing.T) {
	single := corev1.IPFamilyPolicySingleStack
	stored := func(typ corev1.ServiceType) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{Type: typ, ClusterIP: "10.96.0.5", ClusterIPs: []string{"10.96.0.5"},
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol}, IPFamilyPolicy: &single, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080}}}}
	}
	for _, tc := range []struct {
		name             string
		from, to         corev1.ServiceType
		keepIP, keepPort bool
		nodePort         int32 // what the update itself says (0: as stored)
	}{
		{"NodePort to ClusterIP", corev1.ServiceTypeNodePort, corev1.ServiceTypeClusterIP, true, false, 0},
		{"LoadBalancer to NodePort", corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort, true, true, 0},
		{"NodePort to ExternalName", corev1.ServiceTypeNodePort, corev1.ServiceTypeExternalName, false, false, 0},
		{"NodePort to ClusterIP naming a new node port", corev1.ServiceTypeNodePort, corev1.ServiceTypeClusterIP, true, true, 30081},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := stored(tc.to)
			if tc.nodePort != 0 {
				next.Spec.Ports[0].NodePort = tc.nodePort
			}
			dropTypeDependentFields(stored(tc.from), next)
			if kept := next.Spec.ClusterIP != "" && next.Spec.IPFamilies != nil; kept != tc.keepIP {
				t.Errorf("cluster IP %q families %v, want kept=%v", next.Spec.ClusterIP, next.Spec.IPFamilies, tc.keepIP)
			}
			if kept := next.Spec.Ports[0].NodePort != 0; kept != tc.keepPort {
				t.Errorf("node port %d, want kept=%v (a node port the update names stays, for validation to refuse)", next.Spec.Ports[0].NodePort, tc.keepPort)
			}
			if tc.to == corev1.ServiceTypeClusterIP && next.Spec.ExternalTrafficPolicy != "" {
				t.Errorf("externalTrafficPolicy %q kept on a ClusterIP service", next.Spec.ExternalTrafficPolicy)
			}
		})
	}
}
