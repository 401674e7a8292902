package nodelifecycle

import (
	"encoding/json"
	"fmt"
	"github.com/wake-run/wake/services/reconcile"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Actor is the identity the controller appends as.
const Actor = "system:node-lifecycle-controller"

// Node is what Decide knows of one node.
type Node struct {
	Node          *corev1.Node
	Version       uint64
	EventID       string
	LastHeartbeat time.Time
	Pods          []Pod
}

// Pod is a pod bound to the node.
type Pod struct {
	Namespace, Name, UID string
	Version              uint64
	Deleting             *time.Time
	Grace                int64
}

// Action is one guarded append.
type Action = reconcile.Action

// Decide returns, for one node at now: when its heartbeats are older than grace
// and it is Ready, a status marking it Unknown; when it is not Ready (or just
// marked so), an eviction (pod.deleting) of each pod not yet deleting, and the
// deletion of each pod whose own grace period ran out on the lost node. Pure.
func Decide(n Node, now time.Time, grace time.Duration) ([]Action, error) {
	var out []Action
	lost := now.Sub(n.LastHeartbeat) > grace
	if !lost {
		return nil, nil
	}
	if ready(n.Node) {
		st := n.Node.Status.DeepCopy()
		setReady(st, metav1.NewTime(now), n.LastHeartbeat)
		raw, err := json.Marshal(st)
		if err != nil {
			return nil, err
		}
		ev := newEvent("node."+object.Status, events.Ref{Kind: "Node", Name: n.Node.Name}, n.Version, n.EventID,
			&object.StatusChange{Status: raw})
		ev.Reason = fmt.Sprintf("no heartbeat from node %s for %s (grace %s)", n.Node.Name, now.Sub(n.LastHeartbeat).Round(time.Second), grace)
		out = append(out, Action{Event: ev, Expected: n.Version})
	}
	for _, p := range n.Pods {
		ref := events.Ref{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}
		switch {
		case p.Deleting == nil:
			g := p.Grace
			ev := newEvent("pod."+object.Deleting, ref, p.Version, n.EventID, object.Deletion{UID: p.UID, GracePeriodSeconds: &g})
			ev.Reason = fmt.Sprintf("evicted: node %s is not ready", n.Node.Name)
			out = append(out, Action{Event: ev, Expected: p.Version})
		case now.Sub(*p.Deleting) > time.Duration(p.Grace)*time.Second:
			ev := newEvent("pod."+object.Deleted, ref, p.Version, n.EventID, object.Deletion{UID: p.UID})
			ev.Reason = fmt.Sprintf("node %s is not ready and the pod's grace period ended", n.Node.Name)
			out = append(out, Action{Event: ev, Expected: p.Version})
		}
	}
	return out, nil
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func setReady(st *corev1.NodeStatus, now metav1.Time, last time.Time) {
	c := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
		Message: "the node agent stopped posting heartbeats", LastTransitionTime: now, LastHeartbeatTime: metav1.NewTime(last)}
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.NodeReady {
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

func newEvent(typ string, ref events.Ref, version uint64, cause string, payload any) *events.Event {
	raw, _ := json.Marshal(payload)
	ev := &events.Event{ID: events.DerivedID(Actor, cause, typ, ref, version), Type: typ, Object: ref, Actor: Actor,
		Schema: events.SchemaVersion, Payload: raw, Cause: cause, Correlation: cause}
	if ev.Correlation == "" {
		ev.Correlation = ev.ID
	}
	return ev
}
