package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Builders for the tables: a node or pod is a name and a list of options.

type nodeOpt func(*corev1.Node)

// makeNode returns a Ready node with the given cpu and memory and room for 110 pods.
func makeNode(name, cpu, memory string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Allocatable: rl("cpu", cpu, "memory", memory, "pods", "110"),
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func labelled(kv ...string) nodeOpt {
	return func(n *corev1.Node) {
		for i := 0; i < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func tainted(key, value string, effect corev1.TaintEffect) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func readiness(s corev1.ConditionStatus) nodeOpt {
	return func(n *corev1.Node) { n.Status.Conditions[0].Status = s }
}

func noConditions(n *corev1.Node) { n.Status.Conditions = nil }

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func allocatable(kv ...string) nodeOpt {
	return func(n *corev1.Node) {
		for name, q := range rl(kv...) {
			n.Status.Allocatable[name] = q
		}
	}
}

type podOpt func(*corev1.Pod)

// makePod returns a pod whose uid is its name.
func makePod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// rl builds a ResourceList from name, quantity pairs.
func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func requests(kv ...string) podOpt { return withContainer(rl(kv...), nil) }

func withContainer(requests, limits corev1.ResourceList) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name:      "c",
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits},
		})
	}
}

func withInit(requests corev1.ResourceList, sidecar bool) podOpt {
	return func(p *corev1.Pod) {
		c := corev1.Container{Name: "init", Resources: corev1.ResourceRequirements{Requests: requests}}
		if sidecar {
			always := corev1.ContainerRestartPolicyAlways
			c.RestartPolicy = &always
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, c)
	}
}

func tolerating(key string, op corev1.TolerationOperator, value string, effect corev1.TaintEffect) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	}
}

func selecting(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func nodeAffinity(p *corev1.Pod) *corev1.NodeAffinity {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &corev1.Affinity{}
	}
	if p.Spec.Affinity.NodeAffinity == nil {
		p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	return p.Spec.Affinity.NodeAffinity
}

// requiring sets required node affinity with the given ORed terms.
func requiring(terms ...corev1.NodeSelectorTerm) podOpt {
	return func(p *corev1.Pod) {
		nodeAffinity(p).RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: terms}
	}
}

func preferring(weight int32, term corev1.NodeSelectorTerm) podOpt {
	return func(p *corev1.Pod) {
		na := nodeAffinity(p)
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.PreferredSchedulingTerm{Weight: weight, Preference: term})
	}
}

func term(exprs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: exprs}
}

func expr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func ownedBy(uid string) podOpt {
	return func(p *corev1.Pod) {
		yes := true
		p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: uid, UID: types.UID(uid), Controller: &yes,
		})
	}
}

func hostPorts(ports ...corev1.ContainerPort) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "ports", Ports: ports})
	}
}

func port(hostPort int32, protocol corev1.Protocol, hostIP string) corev1.ContainerPort {
	return corev1.ContainerPort{ContainerPort: 80, HostPort: hostPort, Protocol: protocol, HostIP: hostIP}
}

func mustPodInfo(t testing.TB, p *corev1.Pod) *PodInfo {
	t.Helper()
	pi, err := NewPodInfo(p)
	if err != nil {
		t.Fatalf("NewPodInfo(%s): %v", p.Name, err)
	}
	return pi
}

// nodeWith returns the NodeInfo of node with the pods placed on it.
func nodeWith(t testing.TB, node *corev1.Node, pods ...*corev1.Pod) *NodeInfo {
	t.Helper()
	n := NewNodeInfo(node)
	for _, p := range pods {
		n.AddPod(mustPodInfo(t, p))
	}
	return n
}

// reasons returns a status's reasons, nil for success.
func reasons(s *Status) []string {
	if s == nil {
		return nil
	}
	return s.Reasons()
}
