package scheduler

import corev1 "k8s.io/api/core/v1"

// NodePorts rejects a node on which a host port the pod asks for is taken. Two
// ports conflict when their protocol and number are equal and their host IPs
// are equal or either is 0.0.0.0 (every address; an empty hostIP means it). An
// empty protocol is TCP; a container port with no hostPort takes nothing.
type NodePorts struct{}

// ReasonNodePorts is the reason NodePorts gives.
const ReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

var statusNodePorts = newStatus("NodePorts", ReasonNodePorts)

const wildcardIP = "0.0.0.0"

// Name implements FilterPlugin.
func (NodePorts) Name() string { return "NodePorts" }

// Filter implements FilterPlugin.
func (NodePorts) Filter(pod *PodInfo, node *NodeInfo) *Status {
	for _, hp := range pod.hostPorts {
		if node.ports.conflicts(hp) {
			return statusNodePorts
		}
	}
	return nil
}

type protocolPort struct {
	protocol corev1.Protocol
	port     int32
}

type hostPort struct {
	ip string
	protocolPort
}

// hostPortSet counts the host ports in use on a node. It is a multiset so that
// removing one of two pods that (against the filter) share a port keeps the
// port taken.
type hostPortSet struct {
	exact map[hostPort]int     // by IP, protocol and port
	any   map[protocolPort]int // by protocol and port, whatever the IP
}

func (s *hostPortSet) add(hp hostPort, delta int) {
	if s.exact == nil {
		s.exact, s.any = make(map[hostPort]int), make(map[protocolPort]int)
	}
	if s.exact[hp] += delta; s.exact[hp] <= 0 {
		delete(s.exact, hp)
	}
	if s.any[hp.protocolPort] += delta; s.any[hp.protocolPort] <= 0 {
		delete(s.any, hp.protocolPort)
	}
}

func (s *hostPortSet) conflicts(hp hostPort) bool {
	if hp.ip == wildcardIP {
		return s.any[hp.protocolPort] > 0
	}
	return s.exact[hp] > 0 || s.exact[hostPort{ip: wildcardIP, protocolPort: hp.protocolPort}] > 0
}

// podHostPorts lists the host ports of the pod's containers and sidecars
// (restartable init containers, which keep their ports for the pod's life).
func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container, sidecarsOnly bool) {
		for i := range cs {
			if sidecarsOnly && (cs[i].RestartPolicy == nil || *cs[i].RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, p := range cs[i].Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := hostPort{ip: p.HostIP, protocolPort: protocolPort{protocol: p.Protocol, port: p.HostPort}}
				if hp.ip == "" {
					hp.ip = wildcardIP
				}
				if hp.protocol == "" {
					hp.protocol = corev1.ProtocolTCP
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.InitContainers, true)
	add(pod.Spec.Containers, false)
	return out
}
