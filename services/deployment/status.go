package deployment

import (
	"fmt"
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
	availableMessage         = "Deployment has minimum availability."
	unavailableMessage       = "Deployment does not have minimum availability."
	pausedMessage            = "Deployment is paused"
	progressingMessageFormat = "ReplicaSet %q is progressing."
	progressedMessageFormat  = "ReplicaSet %q has successfully progressed."
	createdMessageFormat     = "Created new replica set %q"
	foundMessageFormat       = "Found new replica set %q"
)

// defaultFencepost is maxSurge's and maxUnavailable's default.
const defaultFencepost = "25%"

// status is the Deployment's status after the plan: counts from the ReplicaSets'
// status, replicas from the plan, and the Available and Progressing conditions.
// Condition times are the cause's, so the same decision writes the same status.
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
	if p.newRS == nil {
		return st
	}
	name := p.newRS.rs.Name
	switch {
	case d.Spec.Paused:
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonDeploymentPaused, pausedMessage, now)
	case p.newRS.create:
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSCreated, fmt.Sprintf(createdMessageFormat, name), now)
	case st.UpdatedReplicas == p.desired && st.Replicas == p.desired && st.AvailableReplicas == p.desired && p.oldReplicas() == 0:
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable, fmt.Sprintf(progressedMessageFormat, name), now)
	case p.changes():
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonReplicaSetUpdated, fmt.Sprintf(progressingMessageFormat, name), now)
	case condition(&st, appsv1.DeploymentProgressing) == nil:
		setCondition(&st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewRS, fmt.Sprintf(foundMessageFormat, name), now)
	}
	return st
}

// all is every ReplicaSet of the plan, the new one first.
func (p *plan) all() []*planned {
	if p.newRS == nil {
		return p.old
	}
	return append([]*planned{p.newRS}, p.old...)
}

// changes reports whether the plan scales or creates a ReplicaSet.
func (p *plan) changes() bool {
	for _, r := range p.all() {
		if r.create || r.scaled() {
			return true
		}
	}
	return false
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
