package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// register creates or updates this node's Node and reports its status. A write
// refused by a version guard (the node-lifecycle controller marked the node at the
// same moment) is decided again from the node as the log now holds it.
func (a *Agent) register(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = a.registerOnce(ctx); !errors.Is(err, events.ErrConflict) {
			return err
		}
	}
	return err
}

func (a *Agent) registerOnce(ctx context.Context) error {
	k, _ := object.ByKind("Node")
	ref := events.Ref{Kind: "Node", Name: a.cfg.NodeName}
	labels := map[string]string{"kubernetes.io/hostname": a.cfg.NodeName, "kubernetes.io/os": goruntime.GOOS, "kubernetes.io/arch": goruntime.GOARCH}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: labels},
		Spec: corev1.NodeSpec{Taints: a.cfg.Taints, PodCIDR: a.cfg.PodCIDR, PodCIDRs: []string{a.cfg.PodCIDR}}}
	node.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Node"))
	cur, err := a.query.Get(ctx, k, "", a.cfg.NodeName)
	var nf *query.NotFoundError
	var version uint64
	verb := object.Updated
	switch {
	case errors.As(err, &nf):
		node.UID = uuid.NewUUID()
		version, verb = nf.Version, object.Created
	case err != nil:
		return fmt.Errorf("register node %s: %w", a.cfg.NodeName, err)
	default:
		node.UID = cur.Object.GetUID()
		version = cur.Version
		node.Annotations = cur.Object.GetAnnotations()
	}
	rootChanged := a.annotateStorage(node)
	if verb == object.Created || rootChanged || !sameNodeSpec(cur.Object.(*corev1.Node), node) {
		raw, _ := json.Marshal(node)
		ev, _ := events.New(object.EventType(k, verb), ref, a.actor(), &object.Change{Object: raw})
		ev.Reason = "node agent started"
		if version, err = a.log.Append(ctx, ev, version); err != nil {
			return fmt.Errorf("register node %s: %w", a.cfg.NodeName, err)
		}
	}
	st, _ := json.Marshal(a.nodeStatus())
	ev, _ := events.New(object.EventType(k, object.Status), ref, a.actor(), &object.StatusChange{Status: st})
	ev.Reason = "Ready"
	if _, err := a.log.Append(ctx, ev, version); err != nil {
		return fmt.Errorf("report node %s status: %w", a.cfg.NodeName, err)
	}
	return nil
}

func sameNodeSpec(old, node *corev1.Node) bool {
	o, _ := json.Marshal(struct {
		L map[string]string
		S corev1.NodeSpec
	}{old.Labels, old.Spec})
	n, _ := json.Marshal(struct {
		L map[string]string
		S corev1.NodeSpec
	}{node.Labels, node.Spec})
	return string(o) == string(n)
}

func (a *Agent) nodeStatus() corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
	}
	now := metav1.Now()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "AgentReady",
			Message: "wake agent is running", LastHeartbeatTime: now, LastTransitionTime: now}},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.hostIP}, {Type: corev1.NodeHostName, Address: a.cfg.NodeName}},
		NodeInfo: corev1.NodeSystemInfo{KernelVersion: strings.TrimSpace(string(kernel)), OSImage: osImage(),
			ContainerRuntimeVersion: "containerd", KubeletVersion: "wake", OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH},
	}
}
