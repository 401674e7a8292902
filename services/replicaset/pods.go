package replicaset

import (
	"time"

	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// newPod is the pod a ReplicaSet's template describes (labels, annotations,
// finalizers, spec), controlled by the ReplicaSet, with the defaults the API
// server sets on pods.
func newPod(rs *appsv1.ReplicaSet, name string, uid types.UID) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   rs.Namespace,
			UID:         uid,
			Labels:      t.Labels,
			Annotations: t.Annotations,
			Finalizers:  t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         rsKind.APIVersion(),
				Kind:               rsKind.Kind,
				Name:               rs.Name,
				UID:                rs.UID,
				Controller:         ptrTo(true),
				BlockOwnerDeletion: ptrTo(true),
			}},
		},
		Spec: t.Spec,
	}
	pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(podKind.Kind))
	object.Default(pod)
	return pod
}

func ptrTo[T any](v T) *T { return &v }

// replicaSetStatus counts the active pods as Kubernetes does. Conditions are kept.
func replicaSetStatus(rs *appsv1.ReplicaSet, active []Pod, now time.Time) appsv1.ReplicaSetStatus {
	st := appsv1.ReplicaSetStatus{
		Replicas:           int32(len(active)),
		ObservedGeneration: rs.Generation,
		Conditions:         rs.Status.Conditions,
	}
	for _, p := range active {
		if fullyLabeled(p.Pod, rs.Spec.Template.Labels) {
			st.FullyLabeledReplicas++
		}
		if podReady(p.Pod) {
			st.ReadyReplicas++
			if podAvailable(p.Pod, rs.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
	}
	return st
}

func fullyLabeled(p *corev1.Pod, want map[string]string) bool {
	for k, v := range want {
		if p.Labels[k] != v {
			return false
		}
	}
	return true
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// podReady: the pod's Ready condition is True.
func podReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// podAvailable: ready for at least minReadySeconds at now.
func podAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !podReady(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	since := readyCondition(p).LastTransitionTime
	return !since.IsZero() && !since.Add(time.Duration(minReadySeconds)*time.Second).After(now)
}

// NextAvailable is when the next of the ReplicaSet's ready pods becomes
// available, having been ready for minReadySeconds (false: none is waiting):
// the status changes then though nothing is appended, so the controller asks to
// decide again at that time, as Kubernetes requeues after minReadySeconds.
func NextAvailable(in Input) (time.Time, bool) {
	rs := in.ReplicaSet
	if rs.Spec.MinReadySeconds == 0 || rs.DeletionTimestamp != nil {
		return time.Time{}, false
	}
	var next time.Time
	for _, p := range in.Pods {
		if p.DeletionTimestamp != nil || finished(p.Pod) || !podReady(p.Pod) || podAvailable(p.Pod, rs.Spec.MinReadySeconds, in.Now) {
			continue
		}
		since := readyCondition(p.Pod).LastTransitionTime
		if since.IsZero() {
			continue
		}
		if at := since.Add(time.Duration(rs.Spec.MinReadySeconds) * time.Second); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next, !next.IsZero()
}

var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deleteFirst orders pods for deletion as Kubernetes' ActivePods does: unscheduled
// before scheduled; Pending before Unknown before Running; not ready before ready;
// ready for less time before more; more restarts before fewer; newer before older.
// The name breaks ties, so the order is total.
func deleteFirst(a, b *corev1.Pod) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := phaseOrder[a.Status.Phase], phaseOrder[b.Status.Phase]; pa != pb {
		return pa < pb
	}
	if ra, rb := podReady(a), podReady(b); ra != rb {
		return !ra
	}
	if podReady(a) {
		ta, tb := readyCondition(a).LastTransitionTime, readyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			return afterOrZero(ta, tb)
		}
	}
	if ra, rb := restarts(a), restarts(b); ra != rb {
		return ra > rb
	}
	if ca, cb := a.CreationTimestamp, b.CreationTimestamp; !ca.Equal(&cb) {
		return afterOrZero(ca, cb)
	}
	return a.Name < b.Name
}

// afterOrZero: a is later than b, counting a zero time as the latest.
func afterOrZero(a, b metav1.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero()
	}
	return a.After(b.Time)
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n = max(n, c.RestartCount)
	}
	return n
}
