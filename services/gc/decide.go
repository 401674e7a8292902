package gc

import (
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/reconcile"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Actor is the identity the collector appends as.
const Actor = "system:garbage-collector-controller"

// Action is one guarded append: Expected is the version of the event's subject the
// decision was made from.
type Action = reconcile.Action

// Dependent is an object that names a gone owner in its ownerReferences.
type Dependent struct {
	Ref      events.Ref
	UID      string
	Version  uint64
	Deleting bool
	// Grace is a pod's terminationGracePeriodSeconds.
	Grace *int64
	// LiveOwners counts its owners that are neither deleted nor being deleted.
	LiveOwners int
}

// Decide returns the deletions of a gone owner's dependents: a graceful
// pod.deleting for pods (their node agent stops them first), <kind>.deleted for
// every other kind. A dependent that is already being deleted, or that still has
// a live owner, is left alone. cause is the event that made the owner gone. Ids
// derive from the cause and the dependent's version, so a retried decision
// appends nothing twice. It is pure.
func Decide(cause events.Event, dependents []Dependent) []Action {
	var out []Action
	for _, d := range dependents {
		if d.Deleting || d.LiveOwners > 0 {
			continue
		}
		k, ok := object.ByKind(d.Ref.Kind)
		if !ok {
			continue
		}
		deletion := &object.Deletion{UID: d.UID, Propagation: string(metav1.DeletePropagationBackground)}
		verb := object.Deleted
		if k.Kind == "Pod" {
			verb, deletion.GracePeriodSeconds = object.Deleting, d.Grace
		}
		out = append(out, reconcile.NewAction(Actor, cause, object.EventType(k, verb), d.Ref, d.Version, reason(cause, d), deletion))
	}
	return out
}

func reason(cause events.Event, d Dependent) string {
	if cause.Object == d.Ref {
		return "garbage collection: its owner does not exist"
	}
	owner := cause.Object.String()
	if k, ok := object.ByKind(cause.Object.Kind); ok {
		owner = k.Qualified(cause.Object.Name)
	}
	return fmt.Sprintf("garbage collection: its owner %s was deleted", owner)
}
