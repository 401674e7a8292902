package podgc

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

// Actor is the identity the collector appends as.
const Actor = "system:pod-garbage-collector"

// Defaults of the collector's policy, Kubernetes' own.
const (
	// DefaultQuarantine is how long a pod may stay bound to a node that does not
	// exist before it is deleted: a node may be registering right now.
	DefaultQuarantine = 40 * time.Second
	// DefaultTerminatedThreshold is how many terminated pods (Succeeded or Failed)
	// are kept before the oldest are deleted (kube-controller-manager's
	// --terminated-pod-gc-threshold).
	DefaultTerminatedThreshold = 12500
)

// Action is one guarded append: Expected is the version of the pod's own subject
// the decision was made from.
type Action = reconcile.Action

// Pod is what Decide knows of one pod.
type Pod struct {
	Namespace, Name, UID string
	Version              uint64 // of the pod's own subject
	Node                 string // "" when not bound
	Phase                corev1.PodPhase
	Deleting             bool
	// Bound is when the pod was bound to Node.
	Bound time.Time
	// EventID and Correlation are of the newest event on the pod's own subject.
	EventID, Correlation string
}

// Node is what Decide knows of a pod's node.
type Node struct {
	Name string
	// Registered: a Node object of this name exists.
	Registered   bool
	Ready        bool
	OutOfService bool // carries TaintOutOfService
	// Gone is set when the node was deleted (zero when it never registered):
	// when, and the event that deleted it.
	Gone        time.Time
	GoneEventID string
	GoneCorr    string
}

// Decide returns the deletion of one pod, or nil, at now. It is pure.
//
//   - bound to a node that does not exist and being deleted: delete it now, since
//     no node will ever report that it stopped;
//   - bound to a node that has not existed for quarantine: delete it (Kubernetes'
//     orphaned pods);
//   - being deleted on a registered node that is NotReady and carries the
//     out-of-service taint: delete it now (Kubernetes' terminating pods).
//
// A pod that is not bound is the dispatcher's: it is left alone. Ids derive from
// the pod's uid, the event type and the version decided from, so a retry appends
// nothing twice.
func Decide(p Pod, n Node, now time.Time, quarantine time.Duration) *Action {
	if p.Node == "" {
		return nil
	}
	missing := fmt.Sprintf("node %s does not exist (it never registered)", p.Node)
	if !n.Gone.IsZero() {
		missing = fmt.Sprintf("node %s does not exist (it was deleted)", p.Node)
	}
	switch {
	case !n.Registered && p.Deleting:
		return deletion(p, object.Deleted, nil, p.EventID, p.Correlation,
			"pod garbage collection: "+missing+", so no node can stop the pod; its deletion finishes now")
	case !n.Registered:
		since, cause, corr := p.Bound, p.EventID, p.Correlation
		if n.Gone.After(since) {
			since, cause, corr = n.Gone, n.GoneEventID, n.GoneCorr
		}
		if now.Sub(since) < quarantine {
			return nil
		}
		return deletion(p, object.Deleted, nil, cause, corr,
			fmt.Sprintf("pod garbage collection: the pod is bound to a node that does not exist: %s for more than %s", missing, quarantine))
	case p.Deleting && !n.Ready && n.OutOfService:
		return deletion(p, object.Deleted, nil, p.EventID, p.Correlation,
			fmt.Sprintf("pod garbage collection: node %s is not ready and is out of service (taint %s); the pod's deletion finishes now", p.Node, TaintOutOfService))
	}
	return nil
}

// DecideTerminated returns the deletions that bring the terminated pods back to
// threshold: count is how many terminated pods not yet being deleted there are,
// oldest holds the oldest of them by creation, first the oldest. A terminated pod
// is deleted gracefully with a grace period of 0: its node releases what the
// pod held, then the dispatcher ends the deletion. threshold <= 0 keeps every
// terminated pod. It is pure.
func DecideTerminated(count int, oldest []Pod, threshold int) []Action {
	if threshold <= 0 || count <= threshold {
		return nil
	}
	excess := min(count-threshold, len(oldest))
	var out []Action
	zero := int64(0)
	for _, p := range oldest[:excess] {
		out = append(out, *deletion(p, object.Deleting, &zero, p.EventID, p.Correlation,
			fmt.Sprintf("pod garbage collection: %d terminated pods exceed the threshold of %d; the oldest are deleted", count, threshold)))
	}
	return out
}

func deletion(p Pod, verb string, grace *int64, cause, correlation, reason string) *Action {
	typ := "pod." + verb
	raw, _ := json.Marshal(object.Deletion{UID: p.UID, GracePeriodSeconds: grace})
	ref := events.Ref{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}
	ev := &events.Event{
		ID:          events.DerivedID(Actor, cause, typ, ref, p.Version),
		Type:        typ,
		Object:      ref,
		Actor:       Actor,
		Cause:       cause,
		Correlation: correlation,
		Reason:      reason,
		Schema:      events.SchemaVersion,
		Payload:     raw,
	}
	if ev.Correlation == "" {
		ev.Correlation = ev.ID
	}
	return &Action{Event: ev, Expected: p.Version}
}
