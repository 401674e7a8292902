// Package podgc is the pod garbage collector, after Kubernetes' PodGC: it keeps
// the cluster from accumulating pods that nothing else will ever end. It
// finishes at once the deletion of a pod whose node does not exist (no node can
// confirm that the pod stopped), deletes a pod bound to a node that has not
// existed for a quarantine period, deletes a terminating pod on a NotReady node
// taken out of service, and deletes the oldest terminated pods beyond a
// threshold. Every deletion is an event whose reason says which rule made it.
package podgc

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

// Projection folds pods (their node, phase and deletion), their status reports
// on node facets, and nodes (registration, readiness, the out-of-service taint).
//
// Keys:
//
//	p\x00<namespace>\x00<name>             -> podRec (the owners of the loop)
//	b\x00<node>\x00<namespace>\x00<name>   -> "" (the pods bound to a node)
//	n\x00<node>                            -> nodeRec (a registered node)
//	g\x00<node>                            -> goneRec (a node that was deleted)
//	f\x00<created, 8 bytes><namespace>\x00<name> -> "" (terminated pods not yet being deleted, oldest first)
//	k\x00terminated                        -> how many f keys there are (8 bytes)
//
// and the touch log of pods (reconcile.Touch), keyed "<namespace>\x00<name>".
func Projection() projections.Projection {
	return projections.Projection{
		Name: "podgc", Version: 1, Fold: Fold,
		Subjects: []string{
			events.KindSubjects("Pod", "", false),
			events.Prefix + ".node.*.pod.*.*",
			events.KindSubjects("Node", "", true),
		},
	}
}

// podRec is what the collector keeps of one pod.
type podRec struct {
	UID     string          `json:"uid"`
	Version uint64          `json:"version"` // of the pod's own subject
	Node    string          `json:"node,omitempty"`
	Phase   corev1.PodPhase `json:"phase,omitempty"`
	// Deleting is set by a pod.deleting event.
	Deleting bool `json:"deleting,omitempty"`
	// Created and Bound are the times the log stored the pod's creation and its
	// binding to Node.
	Created time.Time `json:"created"`
	Bound   time.Time `json:"bound,omitzero"`
	// EventID and Correlation are of the newest event on the pod's own subject.
	EventID     string `json:"eventID"`
	Correlation string `json:"correlation,omitempty"`
}

func (r *podRec) terminated() bool {
	return r != nil && !r.Deleting && (r.Phase == corev1.PodSucceeded || r.Phase == corev1.PodFailed)
}

// nodeRec is a registered node.
type nodeRec struct {
	Ready        bool `json:"ready,omitempty"`
	OutOfService bool `json:"outOfService,omitempty"`
}

// goneRec is a deleted node: when, and the event that deleted it.
type goneRec struct {
	Time        time.Time `json:"time"`
	EventID     string    `json:"eventID"`
	Correlation string    `json:"correlation,omitempty"`
}

// TaintOutOfService is the taint an operator puts on a NotReady node that is
// known to be down for good: its terminating pods are deleted at once.
const TaintOutOfService = "node.kubernetes.io/out-of-service"

var terminatedCountKey = []byte("k\x00terminated")

func owner(ns, name string) string   { return ns + "\x00" + name }
func podKey(owner string) []byte     { return []byte("p\x00" + owner) }
func nodeKey(node string) []byte     { return []byte("n\x00" + node) }
func goneKey(node string) []byte     { return []byte("g\x00" + node) }
func boundPrefix(node string) []byte { return []byte("b\x00" + node + "\x00") }
func boundKey(node, o string) []byte { return append(boundPrefix(node), o...) }
func terminatedKey(created time.Time, o string) []byte {
	k := binary.BigEndian.AppendUint64([]byte("f\x00"), uint64(created.UnixNano()))
	return append(k, o...)
}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	switch ev.Object.Kind {
	case "Pod":
		if ev.Object.Node != "" {
			return foldFacet(s, ev)
		}
		return foldPod(s, ev)
	case "Node":
		return foldNode(s, ev)
	}
	return fmt.Errorf("%w: the pod garbage collector folds pods and nodes, not %q", object.ErrFold, ev.Object.Kind)
}

// podObject is the part of a pod's Change the collector reads.
type podObject struct {
	Metadata struct {
		UID string `json:"uid"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
}

func foldPod(s projections.State, ev *events.Event) error {
	o := owner(ev.Object.Namespace, ev.Object.Name)
	prev, err := loadPod(s, o)
	if err != nil {
		return err
	}
	verb := strings.TrimPrefix(ev.Type, "pod.")
	if verb == object.Deleted {
		return save(s, o, prev, nil, ev.Seq)
	}
	if prev == nil && verb != object.Created {
		return fmt.Errorf("%w: %s %s but it does not exist", object.ErrFold, ev.Object, verb)
	}
	var next podRec
	if prev != nil {
		next = *prev
	}
	next.Version, next.EventID, next.Correlation = ev.Seq, ev.ID, ev.Correlation
	switch verb {
	case object.Created, object.Updated:
		if verb == object.Created && prev != nil {
			return fmt.Errorf("%w: %s created but it already exists", object.ErrFold, ev.Object)
		}
		var ch struct {
			Object podObject `json:"object"`
		}
		if err := json.Unmarshal(ev.Payload, &ch); err != nil {
			return fmt.Errorf("%w: %s payload: want {object}: %v", object.ErrFold, ev.Type, err)
		}
		if prev == nil {
			if ch.Object.Metadata.UID == "" {
				return fmt.Errorf("%w: created %s without a uid", object.ErrFold, ev.Object)
			}
			next.UID, next.Created, next.Phase = ch.Object.Metadata.UID, ev.Time, corev1.PodPending
		}
		if next.Node == "" && ch.Object.Spec.NodeName != "" {
			next.Node, next.Bound = ch.Object.Spec.NodeName, ev.Time
		}
	case object.Bound:
		var b object.Binding
		if err := json.Unmarshal(ev.Payload, &b); err != nil || b.Node == "" {
			return fmt.Errorf("%w: %s payload: want {node}: %v", object.ErrFold, ev.Type, err)
		}
		next.Node, next.Bound = b.Node, ev.Time
	case object.Status:
		phase, err := phaseOf(ev)
		if err != nil {
			return err
		}
		next.Phase = phase
	case object.Deleting:
		next.Deleting = true
	}
	return save(s, o, prev, &next, ev.Seq)
}

// foldFacet takes the phase a node reports; the pod's own version is unchanged.
func foldFacet(s projections.State, ev *events.Event) error {
	if ev.Type != "pod."+object.Status {
		return nil // assigned, stopped: the dispatcher's business
	}
	o := owner(ev.Object.Namespace, ev.Object.Name)
	prev, err := loadPod(s, o)
	if err != nil || prev == nil {
		return err // a report that outlived its pod changes nothing
	}
	phase, err := phaseOf(ev)
	if err != nil {
		return err
	}
	next := *prev
	next.Phase = phase
	return save(s, o, prev, &next, ev.Seq)
}

func phaseOf(ev *events.Event) (corev1.PodPhase, error) {
	var sc struct {
		Status struct {
			Phase corev1.PodPhase `json:"phase"`
		} `json:"status"`
	}
	if err := json.Unmarshal(ev.Payload, &sc); err != nil {
		return "", fmt.Errorf("%w: %s payload: want {status}: %v", object.ErrFold, ev.Type, err)
	}
	return sc.Status.Phase, nil
}

// save writes next (nil: the pod is gone), keeps the node and terminated indexes
// in step with it, and touches the pod so the loop decides for it again.
func save(s projections.State, o string, prev, next *podRec, seq uint64) error {
	if prev != nil && prev.Node != "" && (next == nil || next.Node != prev.Node) {
		if err := s.Delete(boundKey(prev.Node, o)); err != nil {
			return err
		}
	}
	if next != nil && next.Node != "" && (prev == nil || prev.Node != next.Node) {
		if err := s.Set(boundKey(next.Node, o), []byte{}); err != nil {
			return err
		}
	}
	if was, is := prev.terminated(), next.terminated(); was != is {
		if err := countTerminated(s, is); err != nil {
			return err
		}
		var err error
		if is {
			err = s.Set(terminatedKey(next.Created, o), []byte{})
		} else {
			err = s.Delete(terminatedKey(prev.Created, o))
		}
		if err != nil {
			return err
		}
	}
	if next == nil {
		if err := s.Delete(podKey(o)); err != nil {
			return err
		}
		return reconcile.Forget(s, o)
	}
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := s.Set(podKey(o), data); err != nil {
		return err
	}
	return reconcile.Touch(s, o, seq)
}

func countTerminated(s projections.State, up bool) error {
	n, err := terminatedCount(s)
	if err != nil {
		return err
	}
	if up {
		n++
	} else if n > 0 {
		n--
	}
	return s.Set(terminatedCountKey, binary.BigEndian.AppendUint64(nil, n))
}

func terminatedCount(rd projections.Reader) (uint64, error) {
	raw, ok, err := rd.Get(terminatedCountKey)
	if err != nil || !ok || len(raw) != 8 {
		return 0, err
	}
	return binary.BigEndian.Uint64(raw), nil
}

// nodeObject is the part of a node's Change the collector reads.
type nodeObject struct {
	Spec struct {
		Taints []corev1.Taint `json:"taints"`
	} `json:"spec"`
}

func foldNode(s projections.State, ev *events.Event) error {
	name := ev.Object.Name
	var prev *nodeRec
	if raw, ok, err := s.Get(nodeKey(name)); err != nil {
		return err
	} else if ok {
		prev = &nodeRec{}
		if err := json.Unmarshal(raw, prev); err != nil {
			return err
		}
	}
	verb := strings.TrimPrefix(ev.Type, "node.")
	if verb == object.Deleted {
		if err := s.Delete(nodeKey(name)); err != nil {
			return err
		}
		data, _ := json.Marshal(goneRec{Time: ev.Time, EventID: ev.ID, Correlation: ev.Correlation})
		if err := s.Set(goneKey(name), data); err != nil {
			return err
		}
		return touchPodsOn(s, name, ev.Seq)
	}
	if prev == nil && verb != object.Created {
		return fmt.Errorf("%w: %s %s but it does not exist", object.ErrFold, ev.Object, verb)
	}
	var next nodeRec
	if prev != nil {
		next = *prev
	}
	switch verb {
	case object.Created, object.Updated:
		var ch struct {
			Object nodeObject `json:"object"`
		}
		if err := json.Unmarshal(ev.Payload, &ch); err != nil {
			return fmt.Errorf("%w: %s payload: want {object}: %v", object.ErrFold, ev.Type, err)
		}
		next.OutOfService = false
		for _, t := range ch.Object.Spec.Taints {
			if t.Key == TaintOutOfService {
				next.OutOfService = true
			}
		}
		if err := s.Delete(goneKey(name)); err != nil {
			return err
		}
	case object.Status:
		var sc struct {
			Status corev1.NodeStatus `json:"status"`
		}
		if err := json.Unmarshal(ev.Payload, &sc); err != nil {
			return fmt.Errorf("%w: %s payload: want {status}: %v", object.ErrFold, ev.Type, err)
		}
		next.Ready = false
		for _, c := range sc.Status.Conditions {
			if c.Type == corev1.NodeReady {
				next.Ready = c.Status == corev1.ConditionTrue
			}
		}
	}
	data, _ := json.Marshal(next)
	if err := s.Set(nodeKey(name), data); err != nil {
		return err
	}
	if prev != nil && *prev == next {
		return nil // nothing a decision reads changed (a heartbeat's status)
	}
	return touchPodsOn(s, name, ev.Seq)
}

// touchPodsOn makes the loop decide again for every pod bound to node.
func touchPodsOn(s projections.State, node string, seq uint64) error {
	prefix := boundPrefix(node)
	var owners []string
	if err := s.Scan(prefix, false, func(k, _ []byte) bool {
		owners = append(owners, string(k[len(prefix):]))
		return true
	}); err != nil {
		return err
	}
	for _, o := range owners {
		if err := reconcile.Touch(s, o, seq); err != nil {
			return err
		}
	}
	return nil
}

func loadPod(rd projections.Reader, o string) (*podRec, error) {
	raw, ok, err := rd.Get(podKey(o))
	if err != nil || !ok {
		return nil, err
	}
	var r podRec
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
