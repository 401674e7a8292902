package object

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// dropTypeDependentFields clears, when an update changes a Service's type,
// what only the old type had and the update did not change (so it came from
// the stored object, not from the person): cluster IPs and IP families when it
// becomes ExternalName, node ports when it needs none any more, the
// load-balancer fields when it is no LoadBalancer, externalTrafficPolicy when
// it is no longer reachable from outside. It is the API server's
// dropTypeDependentFields; allocation then gives the new type what it needs.
func dropTypeDependentFields(old, obj Object) {
	prev, ok := old.(*corev1.Service)
	svc, ok2 := obj.(*corev1.Service)
	if !ok || !ok2 {
		return
	}
	o, n := &prev.Spec, &svc.Spec
	if o.Type != corev1.ServiceTypeExternalName && n.Type == corev1.ServiceTypeExternalName {
		if n.ClusterIP == o.ClusterIP && slices.Equal(n.ClusterIPs, o.ClusterIPs) {
			n.ClusterIP, n.ClusterIPs = "", nil
		}
		if slices.Equal(n.IPFamilies, o.IPFamilies) {
			n.IPFamilies = nil
		}
		if equality.Semantic.DeepEqual(n.IPFamilyPolicy, o.IPFamilyPolicy) {
			n.IPFamilyPolicy = nil
		}
		if equality.Semantic.DeepEqual(n.InternalTrafficPolicy, o.InternalTrafficPolicy) {
			n.InternalTrafficPolicy = nil
		}
	}
	if NeedsNodePorts(prev) && !NeedsNodePorts(svc) && sameNodePorts(o.Ports, n.Ports) {
		for i := range n.Ports {
			n.Ports[i].NodePort = 0
		}
	}
	if o.Type == corev1.ServiceTypeLoadBalancer && n.Type != corev1.ServiceTypeLoadBalancer {
		if equality.Semantic.DeepEqual(n.AllocateLoadBalancerNodePorts, o.AllocateLoadBalancerNodePorts) {
			n.AllocateLoadBalancerNodePorts = nil
		}
		if n.HealthCheckNodePort == o.HealthCheckNodePort {
			n.HealthCheckNodePort = 0
		}
	}
	accessible := n.Type == corev1.ServiceTypeNodePort || n.Type == corev1.ServiceTypeLoadBalancer || len(n.ExternalIPs) > 0
	if !accessible && n.ExternalTrafficPolicy == o.ExternalTrafficPolicy {
		n.ExternalTrafficPolicy = ""
	}
}

// NeedsNodePorts reports whether a Service's type allocates node ports:
// NodePort, and LoadBalancer unless allocateLoadBalancerNodePorts is false.
func NeedsNodePorts(s *corev1.Service) bool {
	switch s.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return s.Spec.AllocateLoadBalancerNodePorts == nil || *s.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// sameNodePorts: every port of next has the node port it had (by port and
// protocol), or none.
func sameNodePorts(prev, next []corev1.ServicePort) bool {
	for _, p := range next {
		if p.NodePort == 0 {
			continue
		}
		held := false
		for _, q := range prev {
			if q.Port == p.Port && q.Protocol == p.Protocol && q.NodePort == p.NodePort {
				held = true
			}
		}
		if !held {
			return false
		}
	}
	return true
}
