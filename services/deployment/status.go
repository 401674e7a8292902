package deployment

import (
	"fmt"
	"math"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Reasons and messages of the Deployment conditions: Kubernetes' own.
const (
	reasonMinimumAvailable   = "MinimumReplicasAvailable"
	reasonMinimumUnavailable = "MinimumReplicasUnavailable"
	reasonNewRSCreated       = "NewReplicaSetCreated"
	reasonFoundNewRS         = "FoundNewReplicaSet"
	reasonReplicaSetUpdated  = "ReplicaSetUpdated"
	reasonNewRSAvailable     = "NewReplicaSetAvailable"
	reasonDeploymentPaused   = "DeploymentPaused"
	reasonDeploymentResumed  = "DeploymentResumed"
	// ReasonTimedOut is the reason of Progressing=False when a rollout made no
	// progress within spec.progressDeadlineSeconds.
	ReasonTimedOut           = "ProgressDeadlineExceeded"
	availableMessage         = "Deployment has minimum availability."
	unavailableMessage       = "Deployment does not have minimum availability."
	pausedMessage            = "Deployment is paused"
	resumedMessage           = "Deployment is resumed"
	progressingMessageFormat = "ReplicaSet %q is progressing."
	progressedMessageFormat  = "ReplicaSet %q has successfully progressed."
	timedOutMessageFormat    = "ReplicaSet %q has timed out progressing."
	createdMessageFormat     = "Created new replica set %q"
	foundMessageFormat       = "Found new replica set %q"
)

// defaultFencepost is maxSurge's and maxUnavailable's default.
const defaultFencepost = "25%"

// status is the Deployment's status after the plan: counts from the ReplicaSets'
// status, replicas from the plan, and the Available and Progressing conditions
// as Kubernetes' deployment controller sets them. Condition times are the
// cause's, so the same decision writes the same status; only a timeout, which
// no event causes, takes the decision's clock.
func (p *plan) status() appsv1.DeploymentStatus {
	d := p.d
	st := appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		CollisionCount:     p.collisionCount,
		Conditions:         slices.Clone(d.Status.Conditions),
	}
	var total int32
	for _, r := range p.all() {
		total += r.replicas
		if r.create {
			continue
		}
		st.Replicas += r.rs.Status.Replicas
		st.ReadyReplicas += r.rs.Status.ReadyReplicas
		st.AvailableReplicas += r.rs.Status.AvailableReplicas
	}
	if p.newRS != nil && !p.newRS.create {
		st.UpdatedReplicas = p.newRS.rs.Status.Replicas
	}
	st.UnavailableReplicas = max(total-st.AvailableReplicas, 0)
	now := metav1.NewTime(p.cause.Time.UTC().Truncate(time.Second))
	if st.AvailableReplicas >= p.desired-maxUnavailable(d) {
		setCondition(&st, appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinimumAvailable, availableMessage, now)
	} else {
		setCondition(&st, appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinimumUnavailable, unavailableMessage, now)
	}
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
		return st
	}
	// A reported timeout stays; otherwise pausing and resuming say so, and no
	// progress is estimated while paused.
	cur := condition(&st, appsv1.DeploymentProgressing)
	switch {
	case cur != nil && cur.Reason == ReasonTimedOut:
	case d.Spec.Paused:
		if cur == nil || cur.Reason != reasonDeploymentPaused {
			setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonDeploymentPaused, pausedMessage, now)
		}
	case cur != nil && cur.Reason == reasonDeploymentPaused:
		// Resumed: the deadline counts from now, not from before the pause.
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonDeploymentResumed, resumedMessage, now)
	}
	if p.newRS == nil || d.Spec.Paused {
		return st
	}
	name := p.newRS.rs.Name
	switch {
	case p.newRS.create:
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSCreated, fmt.Sprintf(createdMessageFormat, name), now)
	case condition(&st, appsv1.DeploymentProgressing) == nil:
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewRS, fmt.Sprintf(foundMessageFormat, name), now)
	}
	cur = condition(&st, appsv1.DeploymentProgressing)
	if st.Replicas == st.UpdatedReplicas && cur.Reason == reasonNewRSAvailable {
		return st // complete: nothing to estimate until the next rollout
	}
	switch {
	case p.complete(st):
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable, fmt.Sprintf(progressedMessageFormat, name), now)
	case progressed(d.Status, st):
		// Progress moves lastUpdateTime even with the reason unchanged: the
		// deadline counts from the newest progress.
		if cur.Status != corev1.ConditionTrue {
			cur.LastTransitionTime = now
		}
		cur.Status, cur.Reason, cur.Message, cur.LastUpdateTime = corev1.ConditionTrue, reasonReplicaSetUpdated, fmt.Sprintf(progressingMessageFormat, name), now
	case p.timedOut(cur):
		clock := metav1.NewTime(p.in.Now.UTC().Truncate(time.Second))
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut, fmt.Sprintf(timedOutMessageFormat, name), clock)
	}
	return st
}

// complete is Kubernetes' DeploymentComplete: every desired replica is updated
// and available, and no old one is left.
func (p *plan) complete(st appsv1.DeploymentStatus) bool {
	return st.UpdatedReplicas == p.desired && st.Replicas == p.desired && st.AvailableReplicas == p.desired &&
		st.ObservedGeneration >= p.d.Generation
}

// progressed is Kubernetes' DeploymentProgressing: since the recorded status,
// more replicas are updated, ready or available, or fewer old ones are left.
func progressed(was, st appsv1.DeploymentStatus) bool {
	return st.UpdatedReplicas > was.UpdatedReplicas || st.Replicas-st.UpdatedReplicas < was.Replicas-was.UpdatedReplicas ||
		st.ReadyReplicas > was.ReadyReplicas || st.AvailableReplicas > was.AvailableReplicas
}

// timedOut is Kubernetes' DeploymentTimedOut: the Progressing condition was
// last updated more than progressDeadlineSeconds before the decision's clock.
func (p *plan) timedOut(cur *appsv1.DeploymentCondition) bool {
	switch cur.Reason {
	case reasonNewRSAvailable:
		return false
	case ReasonTimedOut:
		return true
	}
	return cur.LastUpdateTime.Add(progressDeadline(p.d)).Before(p.in.Now)
}

// deadlineWake is when the rollout, making no more progress, would pass its
// deadline: the decision asks to be made again then (Kubernetes'
// requeueStuckDeployment, with its second against clock skew). False: no
// deadline is running.
func deadlineWake(d *appsv1.Deployment, st appsv1.DeploymentStatus) (time.Time, bool) {
	if !hasProgressDeadline(d) || d.Spec.Paused {
		return time.Time{}, false
	}
	cur := condition(&st, appsv1.DeploymentProgressing)
	if cur == nil || cur.Reason == reasonNewRSAvailable || cur.Reason == ReasonTimedOut {
		return time.Time{}, false
	}
	return cur.LastUpdateTime.Add(progressDeadline(d) + time.Second), true
}

// hasProgressDeadline: spec.progressDeadlineSeconds is set and not MaxInt32,
// Kubernetes' "no deadline".
func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

func progressDeadline(d *appsv1.Deployment) time.Duration {
	return time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
}

func removeCondition(st *appsv1.DeploymentStatus, typ appsv1.DeploymentConditionType) {
	st.Conditions = slices.DeleteFunc(st.Conditions, func(c appsv1.DeploymentCondition) bool { return c.Type == typ })
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
}

// all is every ReplicaSet of the plan, the new one first.
func (p *plan) all() []*planned {
	if p.newRS == nil {
		return p.old
	}
	return append([]*planned{p.newRS}, p.old...)
}

func condition(st *appsv1.DeploymentStatus, typ appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition sets a condition as Kubernetes does: an unchanged condition keeps
// its times; a changed status moves lastTransitionTime.
func setCondition(st *appsv1.DeploymentStatus, typ appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, message string, now metav1.Time) {
	c := condition(st, typ)
	if c == nil {
		st.Conditions = append(st.Conditions, appsv1.DeploymentCondition{Type: typ, Status: status, Reason: reason,
			Message: message, LastUpdateTime: now, LastTransitionTime: now})
		return
	}
	if c.Status == status && c.Reason == reason && c.Message == message {
		return
	}
	if c.Status != status {
		c.LastTransitionTime = now
	}
	c.Status, c.Reason, c.Message, c.LastUpdateTime = status, reason, message, now
}

// fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded down)
// against the desired replicas; both 0 would stall, so maxUnavailable becomes 1.
func fenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	surgeValue, unavailableValue := intstr.FromString(defaultFencepost), intstr.FromString(defaultFencepost)
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			surgeValue = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			unavailableValue = *ru.MaxUnavailable
		}
	}
	desired := int(deploymentReplicas(d))
	s, _ := intstr.GetScaledValueFromIntOrPercent(&surgeValue, desired, true)
	u, _ := intstr.GetScaledValueFromIntOrPercent(&unavailableValue, desired, false)
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u)
}

// maxUnavailable is how many of the desired replicas may be unavailable: 0 unless
// rolling, never more than desired.
func maxUnavailable(d *appsv1.Deployment) int32 {
	desired := deploymentReplicas(d)
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType || desired == 0 {
		return 0
	}
	_, u := fenceposts(d)
	return min(u, desired)
}
