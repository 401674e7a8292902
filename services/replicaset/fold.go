// Package replicaset is the ReplicaSet controller: it keeps spec.replicas pods
// owned by each ReplicaSet alive, creating pods from the template under generated
// names and deleting the surplus gracefully, and reports the counts in the
// ReplicaSet's status.
package replicaset

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// Projection folds ReplicaSets and pods: every ReplicaSet, every pod (live, or the
// version of its deletion) with the status its node reports through the pod's
// facet in the node's inbox, which pods each ReplicaSet controls, how many pods
// were ever created for each, and the touch log of ReplicaSets to reconcile.
//
// Keys: those of reconcile.Owned (kit: owners under r\x00, pods under p\x00) and
//
//	k\x00<replicaset uid> -> pods created with it as controller (decimal)
func Projection() projections.Projection {
	// and pods' facets: the status their nodes report
	return kit.Projection("replicasets", Fold, events.Prefix+".node.*.pod.>")
}

var (
	rsKind, _  = object.ByKind("ReplicaSet")
	podKind, _ = object.ByKind("Pod")
	kit        = reconcile.Owned{Actor: Actor, Owner: rsKind, Child: podKind, OwnerPrefix: "r", ChildPrefix: "p"}
)

func counterKey(uid string) []byte { return []byte("k\x00" + uid) }

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	switch ev.Object.Kind {
	case rsKind.Kind:
		return foldReplicaSet(s, ev)
	case podKind.Kind:
		return kit.FoldChild(s, ev, countsChanged, countCreated)
	}
	return fmt.Errorf("%w: the replicasets projection does not read kind %q", object.ErrFold, ev.Object.Kind)
}

func foldReplicaSet(s projections.State, ev *events.Event) error {
	prev, next, err := kit.FoldOwner(s, ev, func(prev, next *object.Stored) bool {
		return !equality.Semantic.DeepEqual(specOf(prev), specOf(next))
	})
	if err != nil || next != nil || prev == nil {
		return err
	}
	return s.Delete(counterKey(string(prev.Object.GetUID())))
}

func specOf(st *object.Stored) *appsv1.ReplicaSetSpec { return &st.Object.(*appsv1.ReplicaSet).Spec }

// countsChanged reports whether a pod event can change which pods count as a
// ReplicaSet's replicas: it came or went, was relabelled or re-owned, began
// deleting, or finished.
func countsChanged(prev, next *object.Stored) bool {
	if prev == nil || next == nil {
		return true
	}
	a, b := prev.Object.(*corev1.Pod), next.Object.(*corev1.Pod)
	return !maps.Equal(a.Labels, b.Labels) || reconcile.ControllerUID(prev) != reconcile.ControllerUID(next) ||
		(a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil) || finished(a) != finished(b)
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// countCreated counts one more pod created with the ReplicaSet uid as controller.
func countCreated(s projections.State, uid string) error {
	n, err := readCounter(s, uid)
	if err != nil {
		return err
	}
	return s.Set(counterKey(uid), []byte(strconv.FormatUint(n+1, 10)))
}

func readCounter(rd projections.Reader, uid string) (uint64, error) {
	raw, ok, err := rd.Get(counterKey(uid))
	if err != nil || !ok {
		return 0, err
	}
	return strconv.ParseUint(string(raw), 10, 64)
}
