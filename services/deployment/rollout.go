package deployment

import (
	"fmt"
	"github.com/wake-run/wake/services/reconcile"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Rollout planning: each strategy sets the spec.replicas a plan gives its
// ReplicaSets; createNew, syncRevision and cleanup complete the plan.

// scaleOnly is a paused Deployment: no new ReplicaSet; replicas changes scale the
// current one when it is the only one with pods.
func (p *plan) scaleOnly() {
	if p.newRS != nil && p.oldReplicas() == 0 {
		p.newRS.replicas = p.desired
	}
}

// recreate scales every old ReplicaSet to 0 and, once none has pods left, scales
// the new one to the desired replicas.
func (p *plan) recreate() {
	running := false
	for _, r := range p.old {
		r.replicas = 0
		st := r.rs.Status
		running = running || specReplicas(r.rs) > 0 || st.Replicas > 0 || st.ObservedGeneration < r.rs.Generation
	}
	if running {
		return
	}
	if p.newRS == nil {
		p.createNew(p.desired)
		return
	}
	p.newRS.replicas = p.desired
}

// rollingUpdate scales the new ReplicaSet up as far as maxSurge allows and the
// old ones down as far as maxUnavailable allows, counting available pods from
// the ReplicaSets' status as Kubernetes does.
func (p *plan) rollingUpdate() {
	surge, _ := fenceposts(p.d)
	if p.newRS == nil {
		p.createNew(0)
		if p.newRS == nil {
			return // every candidate name is taken; the next round counts on
		}
	}
	n := p.newRS
	switch {
	case n.replicas > p.desired:
		n.replicas = p.desired
	case n.replicas < p.desired:
		if room := p.desired + surge - p.allReplicas(); room > 0 {
			n.replicas += min(room, p.desired-n.replicas)
		}
	}
	p.scaleDownOld(p.desired - maxUnavailable(p.d))
}

// scaleDownOld is Kubernetes' reconcileOldReplicaSets: first the unavailable pods
// of old ReplicaSets, then available ones while more than minAvailable remain.
func (p *plan) scaleDownOld(minAvailable int32) {
	if p.oldReplicas() == 0 {
		return
	}
	newUnavailable := p.newRS.replicas - available(p.newRS)
	maxScaledDown := p.allReplicas() - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return
	}
	var cleaned int32
	for _, r := range p.old {
		if cleaned >= maxScaledDown {
			break
		}
		if unhealthy := r.replicas - available(r); r.replicas > 0 && unhealthy > 0 {
			down := min(maxScaledDown-cleaned, unhealthy)
			r.replicas -= down
			cleaned += down
		}
	}
	var avail int32
	for _, r := range append([]*planned{p.newRS}, p.old...) {
		avail += available(r)
	}
	if avail <= minAvailable {
		return
	}
	budget := min(avail-minAvailable, maxScaledDown-cleaned)
	for _, r := range p.old {
		if budget <= 0 {
			break
		}
		down := min(r.replicas, budget)
		r.replicas -= down
		budget -= down
	}
}

// available is the ReplicaSet's available pods as its status reports them, but
// never more than its planned replicas: a status that has not yet caught up with
// a scale-down must not make the rollout take more pods down.
func available(r *planned) int32 {
	if r.create {
		return 0
	}
	return max(min(r.rs.Status.AvailableReplicas, r.replicas, specReplicas(r.rs)), 0)
}

func (p *plan) allReplicas() int32 {
	n := p.oldReplicas()
	if p.newRS != nil {
		n += p.newRS.replicas
	}
	return n
}

func (p *plan) oldReplicas() int32 {
	var n int32
	for _, r := range p.old {
		n += r.replicas
	}
	return n
}

// createNew plans the ReplicaSet of the current template with replicas, under the
// first name "<deployment>-<hash>" that no other ReplicaSet holds: a name taken by
// another template is a hash collision, counted in status.collisionCount.
func (p *plan) createNew(replicas int32) {
	d := p.d
	cc := p.collisionCount
	for range 10 {
		hash := PodTemplateHash(&d.Spec.Template, cc)
		name := d.Name + "-" + hash
		var expected uint64
		var live bool
		if p.in.Names != nil {
			expected, live = p.in.Names(name)
		}
		if !live {
			p.collisionCount = cc
			p.newRS = &planned{rs: newReplicaSet(d, name, hash, expected), replicas: replicas, create: true, expected: expected}
			return
		}
		next := int32(1)
		if cc != nil {
			next = *cc + 1
		}
		cc = &next
	}
}

// newReplicaSet is the ReplicaSet of d's template: its labels and selector carry
// the template hash, and d controls it.
func newReplicaSet(d *appsv1.Deployment, name, hash string, expected uint64) *appsv1.ReplicaSet {
	template := d.Spec.Template.DeepCopy()
	template.Labels = withLabel(template.Labels, HashLabel, hash)
	selector := d.Spec.Selector.DeepCopy()
	selector.MatchLabels = withLabel(selector.MatchLabels, HashLabel, hash)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       d.Namespace,
			UID:             reconcile.DerivedUID(fmt.Sprintf("%s|%s|%d", d.UID, name, expected)),
			Labels:          template.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind(deployKind.Kind))},
		},
		Spec: appsv1.ReplicaSetSpec{
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        *template,
		},
	}
	rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(rsKind.Kind))
	return rs
}

// syncRevision gives the new ReplicaSet the revision after every old one, as
// Kubernetes does, so a rollback to an old template becomes the newest revision.
func (p *plan) syncRevision() {
	if p.newRS == nil {
		return
	}
	var newest int64
	for _, r := range p.old {
		newest = max(newest, r.revision)
	}
	if p.newRS.create || p.newRS.revision <= newest {
		p.newRS.revision = newest + 1
	}
}

// cleanup deletes the oldest ReplicaSets that are scaled down to no pods, beyond
// spec.revisionHistoryLimit of them.
func (p *plan) cleanup() {
	limit := int(revisionLimit(p.d))
	var idle []*planned
	for _, r := range p.old {
		st := r.rs.Status
		if r.replicas == 0 && specReplicas(r.rs) == 0 && st.Replicas == 0 && st.ObservedGeneration >= r.rs.Generation {
			idle = append(idle, r)
		}
	}
	for _, r := range idle[:max(len(idle)-limit, 0)] {
		r.remove = true
	}
}
