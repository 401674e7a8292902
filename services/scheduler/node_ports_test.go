package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestNodePorts(t *testing.T) {
	const tcp, udp = corev1.ProtocolTCP, corev1.ProtocolUDP
	tests := []struct {
		name     string
		placed   []corev1.ContainerPort
		wanted   []corev1.ContainerPort
		conflict bool
	}{
		{"nothing placed", nil, []corev1.ContainerPort{port(80, tcp, "")}, false},
		{"no host port asked", []corev1.ContainerPort{port(80, tcp, "")}, []corev1.ContainerPort{port(0, tcp, "")}, false},
		{"same port, both on every address", []corev1.ContainerPort{port(80, tcp, "")}, []corev1.ContainerPort{port(80, tcp, "")}, true},
		{"empty protocol is TCP", []corev1.ContainerPort{port(80, "", "")}, []corev1.ContainerPort{port(80, tcp, "0.0.0.0")}, true},
		{"other protocol", []corev1.ContainerPort{port(53, tcp, "")}, []corev1.ContainerPort{port(53, udp, "")}, false},
		{"other port", []corev1.ContainerPort{port(80, tcp, "")}, []corev1.ContainerPort{port(81, tcp, "")}, false},
		{"specific IP against 0.0.0.0 placed", []corev1.ContainerPort{port(80, tcp, "0.0.0.0")}, []corev1.ContainerPort{port(80, tcp, "10.0.0.1")}, true},
		{"0.0.0.0 against a specific IP placed", []corev1.ContainerPort{port(80, tcp, "10.0.0.1")}, []corev1.ContainerPort{port(80, tcp, "")}, true},
		{"two different specific IPs", []corev1.ContainerPort{port(80, tcp, "10.0.0.1")}, []corev1.ContainerPort{port(80, tcp, "10.0.0.2")}, false},
		{"the same specific IP", []corev1.ContainerPort{port(80, tcp, "10.0.0.1")}, []corev1.ContainerPort{port(80, tcp, "10.0.0.1")}, true},
		{"any of several ports", []corev1.ContainerPort{port(443, tcp, "")}, []corev1.ContainerPort{port(80, tcp, ""), port(443, tcp, "")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var placed []*corev1.Pod
			if tt.placed != nil {
				placed = append(placed, makePod("placed", hostPorts(tt.placed...)))
			}
			n := nodeWith(t, makeNode("n", "1", "1Gi"), placed...)
			got := NodePorts{}.Filter(mustPodInfo(t, makePod("p", hostPorts(tt.wanted...))), n)
			if (got != nil) != tt.conflict {
				t.Errorf("Filter = %v, want conflict %v", got, tt.conflict)
			}
			if got != nil && got.String() != ReasonNodePorts {
				t.Errorf("reason = %q", got)
			}
		})
	}
}

func TestNodePortsSidecarsKeepTheirPorts(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := makePod("p", func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{
			{Name: "setup", Ports: []corev1.ContainerPort{port(9000, "", "")}},
			{Name: "proxy", RestartPolicy: &always, Ports: []corev1.ContainerPort{port(9001, "", "")}},
		}
	})
	n := nodeWith(t, makeNode("n", "1", "1Gi"), pod)
	for _, tt := range []struct {
		port     int32
		conflict bool
	}{{9000, false}, {9001, true}} {
		got := NodePorts{}.Filter(mustPodInfo(t, makePod("q", hostPorts(port(tt.port, "", "")))), n)
		if (got != nil) != tt.conflict {
			t.Errorf("port %d: Filter = %v, want conflict %v", tt.port, got, tt.conflict)
		}
	}
}
