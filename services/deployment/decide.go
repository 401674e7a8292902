package deployment

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/reconcile"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Actor is the identity the controller appends as.
const Actor = "system:deployment-controller"

// ReplicaSet is a ReplicaSet with the version of its subject.
type ReplicaSet struct {
	*appsv1.ReplicaSet
	Version uint64
}

// Action is one guarded append: Expected is the version of the event's subject the
// decision was made from (0: the subject must hold no event).
type Action = reconcile.Action

// Input is what Decide knows of one Deployment.
type Input struct {
	Deployment *appsv1.Deployment
	// Version is the version of the Deployment's subject.
	Version uint64
	// ReplicaSets are those whose controller reference names the Deployment's uid.
	ReplicaSets []ReplicaSet
	// Cause is the newest event about the Deployment or its ReplicaSets that this
	// controller did not append itself; SpecCause the newest that changed the
	// Deployment's spec. While the status has not observed the spec's generation,
	// the decision reacts to SpecCause, otherwise to Cause (a ReplicaSet's progress).
	Cause, SpecCause events.Event
	// Names reports what the log holds under a ReplicaSet name in the Deployment's
	// namespace: the version of the newest event (the deletion, when not live)
	// and whether a live ReplicaSet holds it. Nil: every name is unused.
	Names func(name string) (version uint64, live bool)
	// Now is the decision's clock: a rollout that has made no progress since
	// progressDeadlineSeconds before it has timed out.
	Now time.Time
}

// Decide returns what to append for one Deployment: the creation of the ReplicaSet
// of its current template, the scaling of its ReplicaSets by the strategy, the
// deletion of old ReplicaSets beyond revisionHistoryLimit, and its status when
// that changed. Event ids and ReplicaSet names and uids derive from the cause, the
// template and the versions decided from, so a retried decision appends nothing
// twice. It is pure.
func Decide(in Input) []Action {
	d := in.Deployment
	if d.DeletionTimestamp != nil {
		return nil // the garbage collector deletes its ReplicaSets
	}
	p := newPlan(in)
	switch {
	case d.Spec.Paused:
		p.scaleOnly()
	case d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType:
		p.recreate()
	default:
		p.rollingUpdate()
	}
	p.syncRevision()
	p.syncNewReplicaSet()
	p.cleanup()
	if out := p.rollback(); out != nil {
		return out
	}
	out := p.actions()
	if st := p.status(); !equality.Semantic.DeepEqual(st, d.Status) {
		out = append(out, p.statusAction(st))
	}
	return out
}

// NextDeadline is when the rollout would pass its progress deadline if it made
// no more progress, from the status the actions out record (else the
// Deployment's): Decide then finds it timed out, so the controller asks to
// decide again at that time. False: no deadline is running.
func NextDeadline(in Input, out []Action) (time.Time, bool) {
	st := in.Deployment.Status
	for _, a := range out {
		if a.Event == nil || a.Event.Type != object.EventType(deployKind, object.Status) {
			continue
		}
		var sc object.StatusChange
		if json.Unmarshal(a.Event.Payload, &sc) != nil || json.Unmarshal(sc.Status, &st) != nil {
			return time.Time{}, false
		}
	}
	return deadlineWake(in.Deployment, st)
}

// planned is a ReplicaSet with what this decision does to it.
type planned struct {
	rs       *appsv1.ReplicaSet
	version  uint64
	replicas int32 // spec.replicas after the decision
	revision int64 // the revision annotation after the decision
	create   bool  // it does not exist yet: create it (expected is the name's version)
	expected uint64
	remove   bool // delete it (history beyond revisionHistoryLimit)
	// annotations and minReadySeconds after the decision (the new ReplicaSet
	// follows the Deployment's); nil: unchanged.
	annotations     map[string]string
	minReadySeconds *int32
}

func (r *planned) scaled() bool { return !r.create && r.replicas != specReplicas(r.rs) }

type plan struct {
	in             Input
	cause          events.Event
	d              *appsv1.Deployment
	desired        int32
	newRS          *planned
	old            []*planned // oldest revision first
	collisionCount *int32
}

func newPlan(in Input) *plan {
	d := in.Deployment
	p := &plan{in: in, cause: in.Cause, d: d, desired: deploymentReplicas(d), collisionCount: d.Status.CollisionCount}
	if d.Status.ObservedGeneration != d.Generation && in.SpecCause.ID != "" {
		p.cause = in.SpecCause
	}
	for _, rs := range in.ReplicaSets {
		r := &planned{rs: rs.ReplicaSet, version: rs.Version, replicas: specReplicas(rs.ReplicaSet), revision: revision(rs.ReplicaSet)}
		if p.newRS == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			p.newRS = r
			continue
		}
		p.old = append(p.old, r)
	}
	sort.SliceStable(p.old, func(i, j int) bool {
		a, b := p.old[i], p.old[j]
		if a.revision != b.revision {
			return a.revision < b.revision
		}
		if !a.rs.CreationTimestamp.Equal(&b.rs.CreationTimestamp) {
			return a.rs.CreationTimestamp.Before(&b.rs.CreationTimestamp)
		}
		return a.rs.Name < b.rs.Name
	})
	return p
}

// actions turns the plan into events: the new ReplicaSet first, then old ones.
func (p *plan) actions() []Action {
	var out []Action
	for _, r := range p.all() {
		rs := r.rs
		ref := events.Ref{Kind: rsKind.Kind, Namespace: rs.Namespace, Name: rs.Name}
		switch {
		case r.create:
			obj := rs.DeepCopy()
			obj.Spec.Replicas = &r.replicas
			obj.Annotations = copiedAnnotations(p.d, nil)
			obj.Annotations[RevisionAnnotation] = strconv.FormatInt(r.revision, 10)
			object.Default(obj)
			reason := fmt.Sprintf("deployment %s rolls out a new pod template (revision %d)", p.d.Name, r.revision)
			out = append(out, p.action(object.EventType(rsKind, object.Created), ref, r.expected, reason, change(obj)))
		case r.remove:
			reason := fmt.Sprintf("deployment %s keeps %d old revisions (revisionHistoryLimit)", p.d.Name, revisionLimit(p.d))
			d := &object.Deletion{UID: string(rs.UID), Propagation: string(metav1.DeletePropagationBackground)}
			out = append(out, p.action(object.EventType(rsKind, object.Deleted), ref, r.version, reason, d))
		case r.scaled() || r.revision != revision(rs) || r.annotations != nil || r.minReadySeconds != nil:
			obj := rs.DeepCopy()
			obj.Spec.Replicas = &r.replicas
			if r.annotations != nil {
				obj.Annotations = r.annotations
			}
			if r.revision != revision(rs) {
				obj.Annotations = withLabel(obj.Annotations, RevisionAnnotation, strconv.FormatInt(r.revision, 10))
			}
			if r.minReadySeconds != nil {
				obj.Spec.MinReadySeconds = *r.minReadySeconds
			}
			obj.Status = appsv1.ReplicaSetStatus{}
			reason := fmt.Sprintf("deployment %s scales replicaset %s from %d to %d", p.d.Name, rs.Name, specReplicas(rs), r.replicas)
			switch {
			case r.scaled():
			case r.revision != revision(rs):
				reason = fmt.Sprintf("deployment %s makes replicaset %s revision %d", p.d.Name, rs.Name, r.revision)
			default:
				reason = fmt.Sprintf("deployment %s updates the annotations and minReadySeconds of replicaset %s", p.d.Name, rs.Name)
			}
			out = append(out, p.action(object.EventType(rsKind, object.Updated), ref, r.version, reason, change(obj)))
		}
	}
	return out
}

func (p *plan) statusAction(st appsv1.DeploymentStatus) Action {
	raw, _ := json.Marshal(st)
	ref := events.Ref{Kind: deployKind.Kind, Namespace: p.d.Namespace, Name: p.d.Name}
	reason := fmt.Sprintf("%d of %d replicas updated, %d available", st.UpdatedReplicas, p.desired, st.AvailableReplicas)
	return p.action(object.EventType(deployKind, object.Status), ref, p.in.Version, reason, &object.StatusChange{Status: raw})
}

func (p *plan) action(typ string, ref events.Ref, expected uint64, reason string, payload any) Action {
	return reconcile.NewAction(Actor, p.cause, typ, ref, expected, reason, payload)
}

func change(obj object.Object) *object.Change {
	raw, _ := json.Marshal(obj)
	return &object.Change{Object: raw}
}

func specReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

func deploymentReplicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func revisionLimit(d *appsv1.Deployment) int32 {
	if d.Spec.RevisionHistoryLimit == nil {
		return 10
	}
	return *d.Spec.RevisionHistoryLimit
}

// revision is the ReplicaSet's revision annotation (0 when absent or malformed).
func revision(rs *appsv1.ReplicaSet) int64 {
	v, _ := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
	return v
}
