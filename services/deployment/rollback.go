package deployment

import (
	"fmt"
	"maps"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// ChangeCauseAnnotation is the cause of a revision as kubectl records it
// (--record) and rollout history shows it; the controller copies it from the
// Deployment to the ReplicaSet of the template it describes.
const ChangeCauseAnnotation = "kubernetes.io/change-cause"

// RollbackOnFailureAnnotation is wake's own opt-in to an automatic rollback:
// with "true" on a Deployment, a rollout that passes its progress deadline
// (Progressing=False, ProgressDeadlineExceeded) is rolled back to the newest
// earlier revision that did not fail, as `rollout undo` would. Kubernetes has no
// automatic rollback; without the annotation wake has none either.
const RollbackOnFailureAnnotation = "wake.run/rollback-on-failure"

// FailedAnnotation marks a ReplicaSet whose rollout the controller rolled back
// automatically: why and when. An automatic rollback never returns to a
// ReplicaSet so marked, so two failing revisions do not take turns.
const FailedAnnotation = "wake.run/rollout-failed"

// annotationsToSkip are the Deployment annotations that are not copied to its
// ReplicaSets, as Kubernetes skips them.
var annotationsToSkip = map[string]bool{
	corev1.LastAppliedConfigAnnotation:          true,
	RevisionAnnotation:                          true,
	"deployment.kubernetes.io/revision-history": true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	appsv1.DeprecatedRollbackTo:                 true,
}

// copiedAnnotations is have (a ReplicaSet's annotations) with d's annotations
// copied over it, but for those Kubernetes skips; like Kubernetes it never
// removes one. It returns a new map.
func copiedAnnotations(d *appsv1.Deployment, have map[string]string) map[string]string {
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range d.Annotations {
		if !annotationsToSkip[k] {
			out[k] = v
		}
	}
	return out
}

// syncNewReplicaSet makes the existing new ReplicaSet follow the Deployment's
// annotations (its change cause) and minReadySeconds, as Kubernetes does.
func (p *plan) syncNewReplicaSet() {
	r := p.newRS
	if r == nil || r.create {
		return
	}
	if ann := copiedAnnotations(p.d, r.rs.Annotations); !maps.Equal(ann, r.rs.Annotations) {
		r.annotations = ann
	}
	if r.rs.Spec.MinReadySeconds != p.d.Spec.MinReadySeconds {
		r.minReadySeconds = &p.d.Spec.MinReadySeconds
	}
}

// rollback is the automatic rollback a Deployment opted in to
// (RollbackOnFailureAnnotation) once its recorded status says the rollout of
// the current template passed its deadline: it marks the new ReplicaSet failed
// and restores the template of the newest earlier revision not marked, with the
// reason as the Deployment's change cause. Nil: nothing to roll back.
func (p *plan) rollback() []Action {
	d := p.d
	if d.Annotations[RollbackOnFailureAnnotation] != "true" || d.Spec.Paused || p.newRS == nil || p.newRS.create ||
		d.Status.ObservedGeneration != d.Generation {
		return nil
	}
	c := condition(&d.Status, appsv1.DeploymentProgressing)
	if c == nil || c.Reason != ReasonTimedOut {
		return nil
	}
	var target *planned
	for _, r := range p.old {
		if r.revision > 0 && r.rs.Annotations[FailedAnnotation] == "" && (target == nil || r.revision > target.revision) {
			target = r
		}
	}
	if target == nil {
		return nil // no earlier revision that did not fail
	}
	failed := p.newRS
	why := fmt.Sprintf("revision %d (replicaset %s) made no progress for %ds (progressDeadlineSeconds) at %s",
		failed.revision, failed.rs.Name, *d.Spec.ProgressDeadlineSeconds, c.LastUpdateTime.UTC().Format(time.RFC3339))
	var out []Action
	if failed.rs.Annotations[FailedAnnotation] == "" {
		rs := failed.rs.DeepCopy()
		rs.Annotations = withLabel(rs.Annotations, FailedAnnotation, why)
		rs.Status = appsv1.ReplicaSetStatus{}
		ref := events.Ref{Kind: rsKind.Kind, Namespace: rs.Namespace, Name: rs.Name}
		out = append(out, p.action(object.EventType(rsKind, object.Updated), ref, failed.version,
			fmt.Sprintf("deployment %s marks the failed rollout of %s", d.Name, rs.Name), change(rs)))
	}
	obj := d.DeepCopy()
	obj.Spec.Template = *target.rs.Spec.Template.DeepCopy()
	delete(obj.Spec.Template.Labels, HashLabel)
	if len(obj.Spec.Template.Labels) == 0 {
		obj.Spec.Template.Labels = nil
	}
	cause := fmt.Sprintf("%s: %s; rolled back to revision %d", RollbackOnFailureAnnotation, why, target.revision)
	obj.Annotations = withLabel(obj.Annotations, ChangeCauseAnnotation, cause)
	obj.Status = appsv1.DeploymentStatus{}
	ref := events.Ref{Kind: deployKind.Kind, Namespace: d.Namespace, Name: d.Name}
	reason := fmt.Sprintf("deployment %s rolls back to revision %d (%s): %s", d.Name, target.revision, target.rs.Name, why)
	return append(out, p.action(object.EventType(deployKind, object.Updated), ref, p.in.Version, reason, change(obj)))
}
