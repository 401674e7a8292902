package deployment

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var (
	t0    = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	apply = events.Event{ID: "apply-1", Type: "deployment.updated", Object: events.Ref{Kind: "Deployment", Namespace: "shop", Name: "web"},
		Time: t0, Actor: "user:alice", Correlation: "corr-1", Schema: events.SchemaVersion, Seq: 20}
	webUID = types.UID("d0000000-0000-4000-8000-000000000001")
)

type deployOpt func(*appsv1.Deployment)

func image(i string) deployOpt {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = i }
}
func recreate() deployOpt {
	return func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
}
func rolling(surge, unavailable intstr.IntOrString) deployOpt {
	return func(d *appsv1.Deployment) {
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}
	}
}
func historyLimit(n int32) deployOpt {
	return func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = &n }
}
func paused() deployOpt { return func(d *appsv1.Deployment) { d.Spec.Paused = true } }

// deployment is shop/web at version 30, generation 4.
func deployment(replicas int32, opts ...deployOpt) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: webUID, Generation: 4, ResourceVersion: "30"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
			},
		},
	}
	d.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	for _, o := range opts {
		o(d)
	}
	object.Default(d)
	return d
}

// replicaSetOf is the ReplicaSet of d's current template at version, with spec
// replicas, available pods (all of them counted, ready and available), and revision.
func replicaSetOf(d *appsv1.Deployment, version uint64, replicas, pods, available int32, rev int) ReplicaSet {
	hash := PodTemplateHash(&d.Spec.Template, nil)
	rs := newReplicaSet(d, d.Name+"-"+hash, hash, 0)
	rs.Spec.Replicas = &replicas
	rs.ResourceVersion = strconv.FormatUint(version, 10)
	rs.Generation = 1
	rs.Annotations = map[string]string{RevisionAnnotation: strconv.Itoa(rev)}
	rs.CreationTimestamp = metav1.NewTime(t0.Add(time.Duration(rev) * time.Minute))
	rs.Status = appsv1.ReplicaSetStatus{Replicas: pods, FullyLabeledReplicas: pods, ReadyReplicas: available,
		AvailableReplicas: available, ObservedGeneration: 1}
	object.Default(rs)
	return ReplicaSet{ReplicaSet: rs, Version: version}
}

func noNames(string) (uint64, bool) { return 0, false }

type decision struct {
	Type     string
	Object   string
	Expected uint64
	Replicas int32 // of a created or updated ReplicaSet
}

func decisions(t *testing.T, actions []Action) []decision {
	out := []decision{}
	for _, a := range actions {
		d := decision{Type: a.Event.Type, Object: a.Event.Object.String(), Expected: a.Expected}
		if a.Event.Type == "replicaset.created" || a.Event.Type == "replicaset.updated" {
			d.Replicas = *decodeRS(t, a).Spec.Replicas
		}
		out = append(out, d)
	}
	return out
}

func decodeRS(t *testing.T, a Action) *appsv1.ReplicaSet {
	t.Helper()
	var ch object.Change
	if err := json.Unmarshal(a.Event.Payload, &ch); err != nil {
		t.Fatal(err)
	}
	obj, err := object.DecodeObject(rsKind, ch.Object)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*appsv1.ReplicaSet)
}

func decodeStatus(t *testing.T, a Action) appsv1.DeploymentStatus {
	t.Helper()
	var sc object.StatusChange
	var st appsv1.DeploymentStatus
	if err := json.Unmarshal(a.Event.Payload, &sc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sc.Status, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func rsName(d *appsv1.Deployment) string {
	return "ReplicaSet/shop/web-" + PodTemplateHash(&d.Spec.Template, nil)
}

const status = "deployment.status"

func TestDecide(t *testing.T) {
	v1 := deployment(3)
	v2 := deployment(3, image("nginx:1.26"))
	pct100 := intstr.FromString("100%")
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	cases := []struct {
		name  string
		in    Input
		want  []decision
		check func(t *testing.T, actions []Action)
	}{
		{
			name: "new deployment: a ReplicaSet of the template with every replica",
			in:   Input{Deployment: v1},
			want: []decision{{"replicaset.created", rsName(v1), 0, 3}, {status, "Deployment/shop/web", 30, 0}},
			check: func(t *testing.T, actions []Action) {
				rs := decodeRS(t, actions[0])
				hash := PodTemplateHash(&v1.Spec.Template, nil)
				if rs.Labels[HashLabel] != hash || rs.Spec.Selector.MatchLabels[HashLabel] != hash || rs.Spec.Template.Labels[HashLabel] != hash {
					t.Errorf("labels %v selector %v template labels %v, want %s=%s on each", rs.Labels, rs.Spec.Selector, rs.Spec.Template.Labels, HashLabel, hash)
				}
				want := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: webUID, Controller: ptrTo(true), BlockOwnerDeletion: ptrTo(true)}}
				if !reflect.DeepEqual(rs.OwnerReferences, want) || rs.Annotations[RevisionAnnotation] != "1" || rs.UID == "" {
					t.Errorf("owners %+v annotations %v uid %q", rs.OwnerReferences, rs.Annotations, rs.UID)
				}
				if errs := object.Validate(rs); len(errs) > 0 {
					t.Errorf("created ReplicaSet is invalid: %v", errs)
				}
				st := decodeStatus(t, actions[1])
				if st.ObservedGeneration != 4 || len(st.Conditions) != 2 ||
					st.Conditions[0].Type != appsv1.DeploymentAvailable || st.Conditions[0].Status != corev1.ConditionFalse ||
					st.Conditions[1].Reason != reasonNewRSCreated || !st.Conditions[1].LastUpdateTime.Time.Equal(t0) {
					t.Errorf("status = %+v", st)
				}
			},
		},
		{
			name: "scale up: the current ReplicaSet follows",
			in:   Input{Deployment: deployment(5), ReplicaSets: []ReplicaSet{replicaSetOf(v1, 11, 3, 3, 3, 1)}},
			want: []decision{{"replicaset.updated", rsName(v1), 11, 5}, {status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "scale down: the current ReplicaSet follows",
			in:   Input{Deployment: deployment(2), ReplicaSets: []ReplicaSet{replicaSetOf(v1, 11, 3, 3, 3, 1)}},
			want: []decision{{"replicaset.updated", rsName(v1), 11, 2}, {status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "rolling update, old pods never ready: a new ReplicaSet within maxSurge, the old one kept (maxUnavailable 0)",
			in:   Input{Deployment: deployment(3, image("nginx:1.26"), rolling(one, zero)), ReplicaSets: []ReplicaSet{replicaSetOf(v1, 11, 3, 3, 0, 1)}},
			want: []decision{{"replicaset.created", rsName(v2), 0, 1}, {status, "Deployment/shop/web", 30, 0}},
			check: func(t *testing.T, actions []Action) {
				if rev := decodeRS(t, actions[0]).Annotations[RevisionAnnotation]; rev != "2" {
					t.Errorf("new revision = %s, want 2", rev)
				}
			},
		},
		{
			name: "rolling update at maxSurge with nothing available: nothing to do",
			in: Input{Deployment: deployment(3, image("nginx:1.26"), rolling(one, zero)), ReplicaSets: []ReplicaSet{
				replicaSetOf(v1, 11, 3, 3, 0, 1), replicaSetOf(v2, 12, 1, 1, 0, 2)}},
			want: []decision{{status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "rolling update with maxUnavailable 100%: unavailable old pods go at once",
			in:   Input{Deployment: deployment(3, image("nginx:1.26"), rolling(one, pct100)), ReplicaSets: []ReplicaSet{replicaSetOf(v1, 11, 3, 3, 0, 1)}},
			want: []decision{{"replicaset.created", rsName(v2), 0, 1}, {"replicaset.updated", rsName(v1), 11, 0}, {status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "rolling update, a new pod available: one old pod may go",
			in: Input{Deployment: deployment(3, image("nginx:1.26")), ReplicaSets: []ReplicaSet{
				replicaSetOf(v1, 11, 3, 3, 3, 1), replicaSetOf(v2, 12, 1, 1, 1, 2)}},
			want: []decision{{"replicaset.updated", rsName(v1), 11, 2}, {status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "rolling update: an old status that lags its scale-down counts no more than its replicas",
			in: func() Input {
				old := replicaSetOf(v1, 11, 2, 3, 3, 1) // scaled 3 -> 2, status still 3 available
				old.Generation = 2
				return Input{Deployment: deployment(3, image("nginx:1.26")), ReplicaSets: []ReplicaSet{old, replicaSetOf(v2, 12, 2, 2, 2, 2)}}
			}(),
			want: []decision{{"replicaset.updated", rsName(v1), 11, 1}, {status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "recreate: old ReplicaSets to 0 first, no new one yet",
			in:   Input{Deployment: deployment(3, image("nginx:1.26"), recreate()), ReplicaSets: []ReplicaSet{replicaSetOf(v1, 11, 3, 3, 3, 1)}},
			want: []decision{{"replicaset.updated", rsName(v1), 11, 0}, {status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "recreate: old pods still counted: wait",
			in: func() Input {
				old := replicaSetOf(v1, 11, 0, 2, 2, 1)
				return Input{Deployment: deployment(3, image("nginx:1.26"), recreate()), ReplicaSets: []ReplicaSet{old}}
			}(),
			want: []decision{{status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "recreate: old pods gone: the new ReplicaSet with every replica",
			in:   Input{Deployment: deployment(3, image("nginx:1.26"), recreate()), ReplicaSets: []ReplicaSet{replicaSetOf(v1, 11, 0, 0, 0, 1)}},
			want: []decision{{"replicaset.created", rsName(v2), 0, 3}, {status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "rollback: the old template's ReplicaSet becomes the newest revision",
			in: Input{Deployment: deployment(3, recreate()), ReplicaSets: []ReplicaSet{
				replicaSetOf(v1, 11, 0, 0, 0, 1), replicaSetOf(v2, 12, 3, 3, 3, 2)}},
			want: []decision{{"replicaset.updated", rsName(v1), 11, 0}, {"replicaset.updated", rsName(v2), 12, 0}, {status, "Deployment/shop/web", 30, 0}},
			check: func(t *testing.T, actions []Action) {
				if rev := decodeRS(t, actions[0]).Annotations[RevisionAnnotation]; rev != "3" {
					t.Errorf("revision = %s, want 3", rev)
				}
			},
		},
		{
			name: "a ReplicaSet of another template holds the name: count a collision",
			in: Input{Deployment: v1, Names: func(n string) (uint64, bool) {
				return 0, n == "web-"+PodTemplateHash(&v1.Spec.Template, nil)
			}},
			want: []decision{{"replicaset.created", "ReplicaSet/shop/web-" + PodTemplateHash(&v1.Spec.Template, ptrTo[int32](1)), 0, 3}, {status, "Deployment/shop/web", 30, 0}},
			check: func(t *testing.T, actions []Action) {
				if st := decodeStatus(t, actions[1]); st.CollisionCount == nil || *st.CollisionCount != 1 {
					t.Errorf("collisionCount = %v, want 1", st.CollisionCount)
				}
			},
		},
		{
			name: "a deleted ReplicaSet's name is created again from its tombstone",
			in:   Input{Deployment: v1, Names: func(string) (uint64, bool) { return 77, false }},
			want: []decision{{"replicaset.created", rsName(v1), 77, 3}, {status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "old ReplicaSets beyond revisionHistoryLimit are deleted, oldest first",
			in: func() Input {
				d := deployment(3, image("nginx:1.27"), historyLimit(1))
				v3 := replicaSetOf(d, 13, 3, 3, 3, 3)
				return Input{Deployment: withStatus(d, v3), ReplicaSets: []ReplicaSet{
					replicaSetOf(v2, 12, 0, 0, 0, 2), v3, replicaSetOf(v1, 11, 0, 0, 0, 1)}}
			}(),
			want: []decision{{"replicaset.deleted", rsName(v1), 11, 0}},
		},
		{
			name: "rolled out and status current: nothing",
			in: func() Input {
				rs := replicaSetOf(v1, 11, 3, 3, 3, 1)
				return Input{Deployment: withStatus(deployment(3), rs), ReplicaSets: []ReplicaSet{rs}}
			}(),
			want: []decision{},
		},
		{
			name: "paused: a new template is not rolled out",
			in:   Input{Deployment: deployment(3, image("nginx:1.26"), paused()), ReplicaSets: []ReplicaSet{replicaSetOf(v1, 11, 3, 3, 3, 1)}},
			want: []decision{{status, "Deployment/shop/web", 30, 0}},
		},
		{
			name: "being deleted: nothing (the garbage collector deletes its ReplicaSets)",
			in: func() Input {
				d := deployment(3)
				d.DeletionTimestamp = &metav1.Time{Time: t0}
				return Input{Deployment: d}
			}(),
			want: []decision{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Cause, tc.in.Version = apply, 30
			if tc.in.Names == nil {
				tc.in.Names = noNames
			}
			actions := Decide(tc.in)
			if got := decisions(t, actions); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decide =\n%+v\nwant\n%+v", got, tc.want)
			}
			again := Decide(tc.in)
			for i, a := range actions {
				ev := a.Event
				if ev.Actor != Actor || ev.Cause != apply.ID || ev.Correlation != apply.Correlation {
					t.Errorf("%s: actor %q cause %q correlation %q", ev.Type, ev.Actor, ev.Cause, ev.Correlation)
				}
				if ev.Schema != events.SchemaVersion || ev.ID == "" || ev.Reason == "" {
					t.Errorf("event lacks schema, id or reason: %+v", ev)
				}
				if again[i].Event.ID != ev.ID || !reflect.DeepEqual(again[i].Event.Payload, ev.Payload) {
					t.Errorf("%s %s: a second decision differs", ev.Type, ev.Object)
				}
			}
			if tc.check != nil {
				tc.check(t, actions)
			}
		})
	}
}

// withStatus gives d the status Decide computes for a finished rollout to rs.
func withStatus(d *appsv1.Deployment, rs ReplicaSet) *appsv1.Deployment {
	p := newPlan(Input{Deployment: d, ReplicaSets: []ReplicaSet{rs}, Cause: apply})
	d.Status = p.status()
	return d
}

func ptrTo[T any](v T) *T { return &v }

func TestPodTemplateHash(t *testing.T) {
	d := deployment(1)
	h := PodTemplateHash(&d.Spec.Template, nil)
	if !regexp.MustCompile(`^[bcdfghjklmnpqrstvwxz2456789]{1,10}$`).MatchString(h) || h != PodTemplateHash(&d.Spec.Template, nil) {
		t.Errorf("hash %q is not stable or not in the safe alphabet", h)
	}
	if PodTemplateHash(&d.Spec.Template, ptrTo[int32](0)) == h || PodTemplateHash(&deployment(1, image("x")).Spec.Template, nil) == h {
		t.Error("a collision count or another template gives the same hash")
	}
	rs := replicaSetOf(d, 1, 1, 1, 1, 1)
	if !equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) || equalIgnoreHash(&rs.Spec.Template, &deployment(1, image("x")).Spec.Template) {
		t.Error("equalIgnoreHash does not ignore exactly the hash label")
	}
}

func TestDecideCauses(t *testing.T) {
	progress := events.Event{ID: "rs-status-1", Type: "replicaset.status", Object: events.Ref{Kind: "ReplicaSet", Namespace: "shop", Name: "web-x"},
		Time: t0.Add(time.Minute), Actor: "system:replicaset-controller", Correlation: "corr-2", Schema: events.SchemaVersion}
	d := deployment(5)
	rs := replicaSetOf(d, 11, 3, 3, 3, 1)
	in := Input{Deployment: d, Version: 30, ReplicaSets: []ReplicaSet{rs}, Cause: progress, SpecCause: apply, Names: noNames}
	// The spec's generation 4 is not observed yet: the scale reacts to the change of spec.
	d.Status.ObservedGeneration = 3
	if a := Decide(in); a[0].Event.Cause != apply.ID || a[0].Event.Correlation != apply.Correlation {
		t.Errorf("unobserved spec: cause %q, want %q", a[0].Event.Cause, apply.ID)
	}
	// Observed: the decision reacts to the newest event, here a ReplicaSet's progress.
	d.Status.ObservedGeneration = 4
	if a := Decide(in); a[0].Event.Cause != progress.ID {
		t.Errorf("observed spec: cause %q, want %q", a[0].Event.Cause, progress.ID)
	}
}
