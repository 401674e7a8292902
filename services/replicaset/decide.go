package replicaset

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/reconcile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Actor is the identity the controller appends as.
const Actor = "system:replicaset-controller"

// BurstReplicas bounds the pods one decision creates or deletes for a ReplicaSet,
// as Kubernetes' burstReplicas does; the next round continues.
const BurstReplicas = 500

// Pod is a pod with the version of its own subject: what a writer names (its
// resourceVersion also counts the status its node reports elsewhere).
type Pod struct {
	*corev1.Pod
	Version uint64
}

// Action is one guarded append: Expected is the version of the event's subject the
// decision was made from (0: the subject must hold no event).
type Action = reconcile.Action

// Input is what Decide knows of one ReplicaSet.
type Input struct {
	ReplicaSet *appsv1.ReplicaSet
	// Version is the version of the ReplicaSet's subject.
	Version uint64
	// Pods are the pods whose controller reference names the ReplicaSet's uid.
	Pods []Pod
	// Created counts the pods ever created with the ReplicaSet as controller: the
	// index of the next generated name.
	Created uint64
	// Cause is the newest event, not appended by this controller, that changed the
	// ReplicaSet's spec or which pods count toward it: the cause of creations and
	// deletions.
	Cause events.Event
	// StatusCause is the newest event about the ReplicaSet or its pods that this
	// controller did not append: the cause of a status update.
	StatusCause events.Event
	// Now decides which ready pods have been ready for minReadySeconds.
	Now time.Time
	// Names reports what the log holds under a pod name in the ReplicaSet's
	// namespace: the version of the newest event (the deletion, when not live)
	// and whether a live pod holds it. Nil: every name is unused.
	Names func(name string) (version uint64, live bool)
}

// Decide returns what to append for one ReplicaSet: creations of missing pods,
// graceful deletions of surplus ones, and its status when that changed. Only
// pods that match the selector, are not being deleted and have not finished
// count as replicas. Event ids and generated names derive from the cause, the
// ReplicaSet's uid and the versions decided from, so a retried decision appends
// nothing twice. It is pure.
func Decide(in Input) []Action {
	rs := in.ReplicaSet
	if rs.DeletionTimestamp != nil {
		return nil // the garbage collector deletes its pods
	}
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return nil // validation refuses such a ReplicaSet; nothing to keep
	}
	active := activePods(in.Pods, rs.Namespace, selector)
	var out []Action
	switch diff := len(active) - int(replicas(rs)); {
	case diff < 0:
		out = append(out, creations(in, min(-diff, BurstReplicas))...)
	case diff > 0:
		out = append(out, deletions(in, active, min(diff, BurstReplicas))...)
	}
	if st := replicaSetStatus(rs, active, in.Now); !equality.Semantic.DeepEqual(st, rs.Status) {
		out = append(out, statusAction(in, st))
	}
	return out
}

// activePods are the pods that count as replicas: in the namespace, matching the
// selector, not being deleted, not finished.
func activePods(pods []Pod, namespace string, selector labels.Selector) []Pod {
	var out []Pod
	for _, p := range pods {
		if p.Namespace == namespace && p.DeletionTimestamp == nil && !finished(p.Pod) && selector.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// maxTakenNames bounds how many generated names held by other pods one decision
// skips.
const maxTakenNames = 100

func creations(in Input, n int) []Action {
	rs := in.ReplicaSet
	var out []Action
	for index := in.Created; len(out) < n && index < in.Created+uint64(n+maxTakenNames); index++ {
		name := PodName(rs.Name, rs.UID, index)
		var expected uint64
		var live bool
		if in.Names != nil {
			expected, live = in.Names(name)
		}
		if live {
			continue // a pod someone else created holds the name: take the next one
		}
		pod := newPod(rs, name, reconcile.DerivedUID(fmt.Sprintf("%s|%d|%d", rs.UID, index, expected)))
		raw, err := json.Marshal(pod)
		if err != nil {
			continue
		}
		ref := events.Ref{Kind: podKind.Kind, Namespace: rs.Namespace, Name: name}
		reason := fmt.Sprintf("replicaset %s wants %d replicas", rs.Name, replicas(rs))
		out = append(out, action(in.Cause, object.EventType(podKind, object.Created), ref, expected, reason, &object.Change{Object: raw}))
	}
	return out
}

func deletions(in Input, active []Pod, n int) []Action {
	rs := in.ReplicaSet
	ranked := append([]Pod(nil), active...)
	sort.SliceStable(ranked, func(i, j int) bool { return deleteFirst(ranked[i].Pod, ranked[j].Pod) })
	var out []Action
	for _, p := range ranked[:n] {
		ref := events.Ref{Kind: podKind.Kind, Namespace: p.Namespace, Name: p.Name}
		reason := fmt.Sprintf("replicaset %s has %d replicas, wants %d", rs.Name, len(active), replicas(rs))
		d := &object.Deletion{UID: string(p.UID), GracePeriodSeconds: p.Spec.TerminationGracePeriodSeconds}
		out = append(out, action(in.Cause, object.EventType(podKind, object.Deleting), ref, p.Version, reason, d))
	}
	return out
}

func statusAction(in Input, st appsv1.ReplicaSetStatus) Action {
	rs := in.ReplicaSet
	raw, _ := json.Marshal(st)
	ref := events.Ref{Kind: rsKind.Kind, Namespace: rs.Namespace, Name: rs.Name}
	reason := fmt.Sprintf("%d of %d replicas, %d ready, %d available", st.Replicas, replicas(rs), st.ReadyReplicas, st.AvailableReplicas)
	cause := in.StatusCause
	if cause.ID == "" {
		cause = in.Cause
	}
	return action(cause, object.EventType(rsKind, object.Status), ref, in.Version, reason, &object.StatusChange{Status: raw})
}

func action(cause events.Event, typ string, ref events.Ref, expected uint64, reason string, payload any) Action {
	return reconcile.NewAction(Actor, cause, typ, ref, expected, reason, payload)
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}
