// Package nodelifecycle notices nodes whose agents stopped sending heartbeats: it
// marks them NotReady (Ready=Unknown) after a grace period and evicts their pods, so
// their controllers replace them on nodes that are alive.
package nodelifecycle

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
)

// Projection folds nodes (readiness) and pods (their node, and deletion).
//
// Keys: n\x00<node> -> nodeRec; p\x00<node>\x00<namespace>\x00<name> -> podRec.
func Projection() projections.Projection {
	return projections.Projection{Name: "nodelifecycle", Version: 1, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{events.KindSubjects("Node", "", true), events.KindSubjects("Pod", "", false)}}
}

type nodeRec struct {
	Node    *corev1.Node `json:"node"`
	Version uint64       `json:"version"`
	EventID string       `json:"eventID"`
}

type podRec struct {
	UID      string     `json:"uid"`
	Version  uint64     `json:"version"`
	Deleting *time.Time `json:"deleting,omitempty"`
	Grace    int64      `json:"grace"`
}

func podKey(node, ns, name string) []byte {
	return []byte("p\x00" + node + "\x00" + ns + "\x00" + name)
}

// Fold is pure over s. It keeps the node's record and, for bound pods, a record
// under their node (the pods to evict when the node is lost).
func Fold(s projections.State, ev *events.Event) error {
	switch ev.Object.Kind {
	case "Node":
		return foldNode(s, ev)
	case "Pod":
		return foldPod(s, ev)
	}
	return fmt.Errorf("%w: node lifecycle folds nodes and pods, not %q", object.ErrFold, ev.Object.Kind)
}

func foldNode(s projections.State, ev *events.Event) error {
	key := []byte("n\x00" + ev.Object.Name)
	var prev *object.Stored
	if raw, ok, err := s.Get(key); err != nil {
		return err
	} else if ok {
		var rec nodeRec
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		prev = &object.Stored{Object: rec.Node, Version: rec.Version}
		rec.Node.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Node"))
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	if next == nil {
		return s.Delete(key)
	}
	data, _ := json.Marshal(nodeRec{Node: next.Object.(*corev1.Node), Version: next.Version, EventID: ev.ID})
	return s.Set(key, data)
}

// pods are found by name through an index: i\x00<namespace>\x00<name> -> node.
func foldPod(s projections.State, ev *events.Event) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	idx := []byte("i\x00" + ns + "\x00" + name)
	verb := strings.TrimPrefix(ev.Type, "pod.")
	node := ""
	if raw, ok, err := s.Get(idx); err != nil {
		return err
	} else if ok {
		node = string(raw)
	}
	switch verb {
	case object.Created, object.Updated:
		var ch object.Change
		if err := json.Unmarshal(ev.Payload, &ch); err != nil {
			return fmt.Errorf("%w: %v", object.ErrFold, err)
		}
		var pod corev1.Pod
		if err := json.Unmarshal(ch.Object, &pod); err != nil {
			return fmt.Errorf("%w: %v", object.ErrFold, err)
		}
		if node == "" && pod.Spec.NodeName != "" {
			node = pod.Spec.NodeName
			if err := s.Set(idx, []byte(node)); err != nil {
				return err
			}
		}
		if node == "" {
			return nil
		}
		return setPod(s, node, ns, name, func(r *podRec) {
			r.Version, r.UID = ev.Seq, string(pod.UID)
			if pod.Spec.TerminationGracePeriodSeconds != nil {
				r.Grace = *pod.Spec.TerminationGracePeriodSeconds
			}
		})
	case object.Bound:
		var b object.Binding
		if err := json.Unmarshal(ev.Payload, &b); err != nil {
			return fmt.Errorf("%w: %v", object.ErrFold, err)
		}
		if err := s.Set(idx, []byte(b.Node)); err != nil {
			return err
		}
		return setPod(s, b.Node, ns, name, func(r *podRec) { r.Version = ev.Seq })
	case object.Deleting:
		if node == "" {
			return nil
		}
		t := ev.Time
		return setPod(s, node, ns, name, func(r *podRec) { r.Version, r.Deleting = ev.Seq, &t })
	case object.Deleted:
		if node == "" {
			return nil
		}
		if err := s.Delete(idx); err != nil {
			return err
		}
		return s.Delete(podKey(node, ns, name))
	default:
		if node == "" {
			return nil
		}
		return setPod(s, node, ns, name, func(r *podRec) { r.Version = ev.Seq })
	}
}

func setPod(s projections.State, node, ns, name string, fn func(*podRec)) error {
	key := podKey(node, ns, name)
	var r podRec
	if raw, ok, err := s.Get(key); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
	}
	fn(&r)
	data, _ := json.Marshal(r)
	return s.Set(key, data)
}
