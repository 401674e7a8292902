// Package deployment is the Deployment controller: it owns ReplicaSets keyed by a
// hash of the pod template, rolls a changed template out to a new ReplicaSet by
// the Recreate or RollingUpdate strategy, scales the current ReplicaSet when
// replicas change, and reports progress in the Deployment's status.
package deployment

import (
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// Projection folds Deployments and ReplicaSets: every Deployment, every
// ReplicaSet (live, or the version of its deletion), which ReplicaSets each
// Deployment controls, and the touch log of Deployments to reconcile.
//
// Keys: those of reconcile.Owned (kit: owners under d\x00, ReplicaSets under s\x00).
func Projection() projections.Projection {
	return kit.Projection("deployments", Fold)
}

var (
	deployKind, _ = object.ByKind("Deployment")
	rsKind, _     = object.ByKind("ReplicaSet")
	kit           = reconcile.Owned{Actor: Actor, Owner: deployKind, Child: rsKind, OwnerPrefix: "d", ChildPrefix: "s"}
)

// Fold is pure over s. A Deployment's new generation is the cause of what it
// creates and scales; a ReplicaSet's events are only causes of status updates.
func Fold(s projections.State, ev *events.Event) error {
	switch ev.Object.Kind {
	case deployKind.Kind:
		_, _, err := kit.FoldOwner(s, ev, func(prev, next *object.Stored) bool {
			return prev.Object.GetGeneration() != next.Object.GetGeneration()
		})
		return err
	case rsKind.Kind:
		return kit.FoldChild(s, ev, nil, nil)
	}
	return fmt.Errorf("%w: the deployments projection does not read kind %q", object.ErrFold, ev.Object.Kind)
}
