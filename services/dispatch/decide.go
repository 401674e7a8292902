package dispatch

import (
	"encoding/json"
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

// Actor is the identity the dispatcher appends as.
const Actor = "system:dispatcher"

// Pod is what Decide knows of one pod.
type Pod struct {
	Pod         *corev1.Pod
	Version     uint64 // of the pod's own subject
	EventID     string // the newest event on it: the cause of what is appended
	Correlation string
	Facet       *facet // nil when nothing reached the node's inbox yet
	// Slot is the version of the pod's facet subject in its node's inbox (0: no
	// event): what forwarding it is guarded by. It counts the events of earlier
	// pods of the same name on that node.
	Slot uint64
}

// Action is one guarded append.
type Action = reconcile.Action

// Decide returns what to append for one pod. It is pure: ids derive from the pod's
// uid, the decision and the version decided from, so retries dedup.
//
//   - bound, and the node has not been given this version: forward it (assigned);
//   - deleting and never bound: delete it;
//   - deleting, and its node has stopped it: delete it.
func Decide(p Pod) ([]Action, error) {
	pod := p.Pod
	ref := events.Ref{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name}
	deleting := pod.DeletionTimestamp != nil
	switch {
	case deleting && pod.Spec.NodeName == "":
		return deletion(p, ref, "the pod never reached a node")
	case deleting && p.Facet != nil && p.Facet.Stopped:
		return deletion(p, ref, fmt.Sprintf("node %s stopped the pod", p.Facet.Node))
	case pod.Spec.NodeName != "" && (p.Facet == nil || p.Facet.Assigned < p.Version):
		raw, err := json.Marshal(pod)
		if err != nil {
			return nil, err
		}
		facetRef := ref
		facetRef.Node = pod.Spec.NodeName
		ev := newEvent(p, "pod."+object.Assigned, facetRef, p.Slot, object.Assignment{Pod: raw, Version: p.Version})
		ev.Reason = fmt.Sprintf("pod %s/%s at version %d for node %s", pod.Namespace, pod.Name, p.Version, pod.Spec.NodeName)
		if deleting {
			ev.Reason = fmt.Sprintf("stop pod %s/%s on node %s", pod.Namespace, pod.Name, pod.Spec.NodeName)
		}
		return []Action{{Event: ev, Expected: p.Slot}}, nil
	}
	return nil, nil
}

// Revoke returns the revocation, in its node's inbox, of a pod of ns/name that was
// deleted outright: the node stops it within the grace period and reports it
// stopped. slot is the version of that inbox slot. It is pure; the id derives
// from the pod's uid and node, so a retry appends it once.
func Revoke(ns, name string, r revocation, slot uint64) Action {
	raw, _ := json.Marshal(object.Deletion{UID: r.UID, GracePeriodSeconds: r.Grace})
	typ, ref := "pod."+object.Revoked, events.Ref{Kind: "Pod", Namespace: ns, Name: name, Node: r.Node}
	ev := &events.Event{ID: events.DerivedID(Actor, r.EventID, typ, ref, slot), Type: typ, Object: ref, Actor: Actor,
		Schema: events.SchemaVersion, Payload: raw, Cause: r.EventID, Correlation: r.Correlation,
		Reason: fmt.Sprintf("pod %s/%s (uid %s) was deleted while node %s ran it: stop it", ns, name, r.UID, r.Node)}
	if ev.Correlation == "" {
		ev.Correlation = ev.ID
	}
	return Action{Event: ev, Expected: slot}
}

// decideName returns what to append for the pods of one name: first the
// revocations of the deleted pods whose nodes may still run them, then what
// Decide returns for the pod that holds the name, unless it would append to a
// slot a revocation appends to now (decided again once the revocation is
// folded: the new pod reaches the node after the old one is revoked).
func decideName(ns, name string, p *Pod, revocations []revocation, slots map[string]uint64) ([]Action, error) {
	var out []Action
	busy := map[string]bool{}
	for _, r := range revocations {
		if busy[r.Node] {
			continue // one append per slot and round
		}
		busy[r.Node] = true
		out = append(out, Revoke(ns, name, r, slots[r.Node]))
	}
	if p == nil {
		return out, nil
	}
	as, err := Decide(*p)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.Event.Object.Node == "" || !busy[a.Event.Object.Node] {
			out = append(out, a)
		}
	}
	return out, nil
}

func deletion(p Pod, ref events.Ref, why string) ([]Action, error) {
	ev := newEvent(p, "pod."+object.Deleted, ref, p.Version, object.Deletion{UID: string(p.Pod.UID)})
	ev.Reason = why
	return []Action{{Event: ev, Expected: p.Version}}, nil
}

// newEvent is an event about ref decided from version of ref's subject.
func newEvent(p Pod, typ string, ref events.Ref, version uint64, payload any) *events.Event {
	raw, _ := json.Marshal(payload)
	ev := &events.Event{ID: events.DerivedID(Actor, p.EventID, typ, ref, version), Type: typ, Object: ref, Actor: Actor,
		Schema: events.SchemaVersion, Payload: raw, Cause: p.EventID, Correlation: p.Correlation}
	if ev.Correlation == "" {
		ev.Correlation = ev.ID
	}
	return ev
}
