package printer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	// labelNodeRolePrefix marks node roles: node-role.kubernetes.io/<role>.
	labelNodeRolePrefix = "node-role.kubernetes.io/"
	// nodeLabelRole is the legacy role label: kubernetes.io/role=<role>.
	nodeLabelRole = "kubernetes.io/role"
)

var namespaceTable = tableKind{
	columns: []column{{name: "Name"}, {name: "Status"}, {name: "Age"}},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		ns, ok := obj.(*corev1.Namespace)
		if !ok {
			return nil, fmt.Errorf("expected *v1.Namespace, got %T", obj)
		}
		return []string{ns.Name, namespacePhase(ns), Age(ns.CreationTimestamp.Time, ctx.now)}, nil
	},
}

// namespacePhase applies the API default (Active) to an empty phase.
func namespacePhase(ns *corev1.Namespace) string {
	if ns.Status.Phase == "" {
		return string(corev1.NamespaceActive)
	}
	return string(ns.Status.Phase)
}

var nodeTable = tableKind{
	columns: []column{
		{name: "Name"},
		{name: "Status"},
		{name: "Roles"},
		{name: "Age"},
		{name: "Version"},
		{name: "Internal-IP", wide: true},
		{name: "External-IP", wide: true},
		{name: "OS-Image", wide: true},
		{name: "Kernel-Version", wide: true},
		{name: "Container-Runtime", wide: true},
	},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		node, ok := obj.(*corev1.Node)
		if !ok {
			return nil, fmt.Errorf("expected *v1.Node, got %T", obj)
		}
		info := node.Status.NodeInfo
		return []string{
			node.Name,
			nodeStatus(node),
			orNone(strings.Join(nodeRoles(node), ",")),
			Age(node.CreationTimestamp.Time, ctx.now),
			info.KubeletVersion,
			nodeAddress(node, corev1.NodeInternalIP),
			nodeAddress(node, corev1.NodeExternalIP),
			orUnknown(info.OSImage),
			orUnknown(info.KernelVersion),
			orUnknown(info.ContainerRuntimeVersion),
		}, nil
	},
}

// nodeStatus renders Ready / NotReady / Unknown from the Ready condition,
// plus ",SchedulingDisabled" for cordoned nodes.
func nodeStatus(node *corev1.Node) string {
	status := "Unknown"
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
		}
	}
	if node.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

// nodeRoles returns the sorted roles from node-role.kubernetes.io/<role>
// and kubernetes.io/role=<role> labels.
func nodeRoles(node *corev1.Node) []string {
	set := map[string]bool{}
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, labelNodeRolePrefix):
			if role := strings.TrimPrefix(k, labelNodeRolePrefix); role != "" {
				set[role] = true
			}
		case k == nodeLabelRole && v != "":
			set[v] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// nodeAddress returns the node's first address of type t, or "<none>".
func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

// orUnknown returns s, or "<unknown>" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

var configMapTable = tableKind{
	columns: []column{{name: "Name"}, {name: "Data"}, {name: "Age"}},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return nil, fmt.Errorf("expected *v1.ConfigMap, got %T", obj)
		}
		return []string{cm.Name, strconv.Itoa(len(cm.Data) + len(cm.BinaryData)), Age(cm.CreationTimestamp.Time, ctx.now)}, nil
	},
}

var secretTable = tableKind{
	columns: []column{{name: "Name"}, {name: "Type"}, {name: "Data"}, {name: "Age"}},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		s, ok := obj.(*corev1.Secret)
		if !ok {
			return nil, fmt.Errorf("expected *v1.Secret, got %T", obj)
		}
		data := strconv.Itoa(len(secretKeys(s)))
		if _, unreadable := s.Annotations[object.UnreadableAnnotation]; unreadable {
			data = "<unreadable>"
		}
		return []string{s.Name, string(secretType(s)), data, Age(s.CreationTimestamp.Time, ctx.now)}, nil
	},
}

// secretType applies the API default (Opaque) to an empty type.
func secretType(s *corev1.Secret) corev1.SecretType {
	if s.Type == "" {
		return corev1.SecretTypeOpaque
	}
	return s.Type
}

// secretKeys returns the sorted keys of data and of stringData (which the
// API server merges into data on write), with their value sizes in bytes.
// Values themselves are never exposed.
func secretKeys(s *corev1.Secret) map[string]int {
	keys := make(map[string]int, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		keys[k] = len(v)
	}
	for k, v := range s.StringData {
		keys[k] = len(v)
	}
	return keys
}
