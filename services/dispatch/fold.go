// Package dispatch is the node-inbox dispatcher. It forwards each bound pod, as it
// must run, into its node's inbox (ev.node.<node>.pod.<ns>.<name>), so a node agent
// reads only its own work; it finishes pod deletions: a deleting pod that never
// reached a node, or that its node has stopped, is deleted; and it revokes, in its
// node's inbox, a pod deleted outright while its node ran it, so the node stops it.
package dispatch

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

// Projection folds pods (from their own subjects) and their node facets.
//
// Keys: p\x00<namespace>\x00<name> -> reconcile.Record; u\x00<namespace>\x00<name> -> its
// uid; f\x00<namespace>\x00<name> -> facet (of the pod that holds the name now);
// s\x00<node>\x00<namespace>\x00<name> -> the version of the facet subject in that
// node's inbox (decimal). A slot's version
// outlives the pod: the next pod of the same name on the same node is forwarded
// guarded by it. r\x00<namespace>\x00<name>\x00<uid> -> revocation: a pod deleted
// outright while its node ran it, until the node is told to stop it.
func Projection() projections.Projection {
	return projections.Projection{
		Name: "dispatch", Version: 4, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{events.KindSubjects("Pod", "", false), events.Prefix + ".node.*.pod.*.*"},
	}
}

var podKind, _ = object.ByKind("Pod")

// facet is what the dispatcher knows of the facet, in its node's inbox, of the pod
// that holds the name now (a pod's deletion forgets it; its slot's version stays).
type facet struct {
	Node string `json:"node"`
	// Assigned is the pod version last forwarded; Stopped that the node released it.
	Assigned uint64 `json:"assigned,omitempty"`
	Stopped  bool   `json:"stopped,omitempty"`
}

// revocation is a pod that was deleted outright (pod.deleted without its node
// reporting it stopped: a forced deletion, a lost node's pod after its grace):
// its node may still run it, and is told to stop it (pod.revoked).
type revocation struct {
	Node string `json:"node"`
	UID  string `json:"uid"`
	// Grace is how long the node may take to stop it: the deletion's grace
	// period, else the pod's terminationGracePeriodSeconds (the kubelet's rule).
	Grace       *int64 `json:"grace,omitempty"`
	EventID     string `json:"eventID"` // the deletion: the cause of the revocation
	Correlation string `json:"correlation,omitempty"`
}

func key(prefix, ns, name string) []byte { return []byte(prefix + "\x00" + ns + "\x00" + name) }

func revocationKey(ns, name, uid string) []byte {
	return []byte("r\x00" + ns + "\x00" + name + "\x00" + uid)
}

// revocationPrefix holds the revocations of the pods once named ns/name.
func revocationPrefix(ns, name string) []byte { return []byte("r\x00" + ns + "\x00" + name + "\x00") }

func slotKey(node, ns, name string) []byte {
	return []byte("s\x00" + node + "\x00" + ns + "\x00" + name)
}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	if ev.Object.Kind != "Pod" {
		return fmt.Errorf("%w: dispatch folds pods, not %q", object.ErrFold, ev.Object.Kind)
	}
	if ev.Object.Node != "" {
		return foldFacet(s, ev)
	}
	pk := key("p", ev.Object.Namespace, ev.Object.Name)
	prev, next, err := reconcile.FoldRecord(s, podKind, pk, ev)
	if err != nil {
		return err
	}
	if next == nil {
		if err := revokeIfRunning(s, prev, ev); err != nil {
			return err
		}
		if err := s.Delete(key("u", ev.Object.Namespace, ev.Object.Name)); err != nil {
			return err
		}
		return s.Delete(key("f", ev.Object.Namespace, ev.Object.Name))
	}
	return s.Set(key("u", ev.Object.Namespace, ev.Object.Name), []byte(next.Object.GetUID()))
}

// revokeIfRunning records a revocation when a pod is deleted that its node was
// given and has not reported stopped.
func revokeIfRunning(s projections.State, prev *object.Stored, ev *events.Event) error {
	if prev == nil {
		return nil
	}
	pod, ok := prev.Object.(*corev1.Pod)
	if !ok {
		return fmt.Errorf("%w: pod %s holds a %T", object.ErrFold, ev.Object, prev.Object)
	}
	raw, ok, err := s.Get(key("f", ev.Object.Namespace, ev.Object.Name))
	if err != nil || !ok {
		return err
	}
	var f facet
	if err := json.Unmarshal(raw, &f); err != nil {
		return err
	}
	if f.Node == "" || f.Assigned == 0 || f.Stopped {
		return nil
	}
	grace := pod.DeletionGracePeriodSeconds
	if grace == nil {
		grace = pod.Spec.TerminationGracePeriodSeconds
	}
	data, _ := json.Marshal(revocation{Node: f.Node, UID: string(pod.UID), Grace: grace, EventID: ev.ID, Correlation: ev.Correlation})
	return s.Set(revocationKey(ev.Object.Namespace, ev.Object.Name, string(pod.UID)), data)
}

// foldFacet records the slot's new version, and what the event says of the pod
// that holds the name, when it is about that pod: a report about a pod that no
// longer exists, or about an earlier pod of the name (its uid says so), changes
// only the slot's version.
func foldFacet(s projections.State, ev *events.Event) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	if err := s.Set(slotKey(ev.Object.Node, ns, name), []byte(strconv.FormatUint(ev.Seq, 10))); err != nil {
		return err
	}
	if ev.Type == "pod."+object.Revoked || ev.Type == "pod."+object.Stopped {
		// The node is told to stop the pod, or has: it needs no revocation.
		var d object.Deletion
		if len(ev.Payload) > 0 && string(ev.Payload) != "null" {
			if err := json.Unmarshal(ev.Payload, &d); err != nil {
				return fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
			}
		}
		if d.UID != "" {
			if err := s.Delete(revocationKey(ns, name, d.UID)); err != nil {
				return err
			}
		}
	}
	uid, ok, err := podUID(s, ns, name)
	if err != nil || !ok {
		return err
	}
	fk := key("f", ns, name)
	var f facet
	if raw, ok, err := s.Get(fk); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal(raw, &f); err != nil {
			return err
		}
	}
	if f.Node != "" && f.Node != ev.Object.Node {
		return nil // another node's slot: the pod is not there
	}
	f.Node = ev.Object.Node
	switch ev.Type {
	case "pod." + object.Assigned:
		var a object.Assignment
		if err := json.Unmarshal(ev.Payload, &a); err != nil {
			return fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
		}
		var meta struct {
			Metadata struct {
				UID string `json:"uid"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(a.Pod, &meta); err != nil {
			return fmt.Errorf("%w: %s pod: %v", object.ErrFold, ev.Type, err)
		}
		if meta.Metadata.UID != uid {
			return nil
		}
		f.Assigned = a.Version
	case "pod." + object.Stopped:
		var d object.Deletion
		if len(ev.Payload) > 0 && string(ev.Payload) != "null" {
			if err := json.Unmarshal(ev.Payload, &d); err != nil {
				return fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
			}
		}
		if d.UID != "" && d.UID != uid {
			return nil
		}
		if f.Assigned == 0 {
			return nil // the node stopped a pod it was never given: an earlier one
		}
		f.Stopped = true
	default:
		return nil // the node's status report: the slot's version is all that moved
	}
	data, _ := json.Marshal(f)
	return s.Set(fk, data)
}

// podUID returns the uid of the pod that holds the name; ok is false when none does.
func podUID(rd projections.Reader, ns, name string) (string, bool, error) {
	raw, ok, err := rd.Get(key("u", ns, name))
	return string(raw), ok, err
}
