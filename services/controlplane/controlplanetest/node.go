// Package controlplanetest is the harness of the control plane's tests: it runs a
// whole control plane with a client (Start), writes manifests (Write, Apply), runs
// one controller over its own projection (RunController), and stands in for parts
// of a cluster that need root or containerd, such as a node agent (RegisterNode).
package controlplanetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// RegisterNode appends what a node agent appends when it joins: the Node, with
// taints if any, then its Ready status with cpu cores, 8Gi of memory and room for
// 110 pods. Its pods are bound by the scheduler but never run.
func RegisterNode(tb testing.TB, log *events.Log, name, cpu string, taints ...corev1.Taint) {
	tb.Helper()
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name),
		Labels: map[string]string{"kubernetes.io/hostname": name}}, Spec: corev1.NodeSpec{Taints: taints}}
	node.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Node"))
	raw, _ := json.Marshal(node)
	ref := events.Ref{Kind: "Node", Name: name}
	actor := "system:node:" + name
	ev, err := events.New("node.created", ref, actor, &object.Change{Object: raw})
	if err != nil {
		tb.Fatal(err)
	}
	seq, err := log.Append(ctx, ev, 0)
	if err != nil {
		tb.Fatal(err)
	}
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	status := corev1.NodeStatus{Capacity: alloc, Allocatable: alloc,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "AgentReady"}}}
	st, _ := json.Marshal(status)
	ev, err = events.New("node.status", ref, actor, &object.StatusChange{Status: st})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := log.Append(ctx, ev, seq); err != nil {
		tb.Fatal(err)
	}
}
