package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations kubectl and the deployment controller use.
const (
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	RevisionAnnotation    = "deployment.kubernetes.io/revision"
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	hashLabel             = appsv1.DefaultDeploymentUniqueLabelKey
)

// ErrUnchanged is returned by the template changes when the object already
// holds what was asked: nothing is appended.
var ErrUnchanged = errors.New("unchanged")

// UpdateTemplate changes the pod template of a Deployment or ReplicaSet with fn
// and appends the update guarded by the version read; fn reports whether it
// changed anything (no: ErrUnchanged, nothing appended). A non-empty cause is
// recorded as the object's kubernetes.io/change-cause, as kubectl --record does.
func (c *Client) UpdateTemplate(ctx context.Context, k *object.Kind, ns, name, cause string, fn func(*corev1.PodTemplateSpec) (bool, error)) error {
	unchanged := false
	err := c.guarded(ctx, k, ns, name, func(cur *object.Stored) (string, any, error) {
		obj := cur.Object.DeepCopyObject().(object.Object)
		var t *corev1.PodTemplateSpec
		switch o := obj.(type) {
		case *appsv1.Deployment:
			t, o.Status = &o.Spec.Template, appsv1.DeploymentStatus{}
		case *appsv1.ReplicaSet:
			t, o.Status = &o.Spec.Template, appsv1.ReplicaSetStatus{}
		default:
			return "", nil, fmt.Errorf("%s have no pod template: this works on deployments and replicasets", k.Resource)
		}
		changed, err := fn(t)
		if err != nil {
			return "", nil, err
		}
		if !changed {
			unchanged = true
			return "", nil, nil
		}
		if cause != "" {
			ann := maps.Clone(obj.GetAnnotations())
			if ann == nil {
				ann = map[string]string{}
			}
			ann[ChangeCauseAnnotation] = cause
			obj.SetAnnotations(ann)
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return "", nil, err
		}
		return object.Updated, &object.Change{Object: raw}, nil
	})
	if err == nil && unchanged {
		return ErrUnchanged
	}
	return err
}

// containersOf returns the containers of t that name selects ("*": all, init
// containers included, as kubectl set does), or an error listing those there are.
func containersOf(t *corev1.PodTemplateSpec, name string) ([]*corev1.Container, error) {
	var out []*corev1.Container
	var names []string
	for _, list := range []*[]corev1.Container{&t.Spec.InitContainers, &t.Spec.Containers} {
		for i := range *list {
			ctr := &(*list)[i]
			names = append(names, ctr.Name)
			if name == "*" || name == "" || ctr.Name == name {
				out = append(out, ctr)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("unable to find container named %q (containers: %s)", name, strings.Join(names, ", "))
	}
	return out, nil
}

// SetEnv sets the environment variables set (in order) and removes those named in
// remove, in the containers named container ("*": every one). Unchanged:
// ErrUnchanged.
func (c *Client) SetEnv(ctx context.Context, k *object.Kind, ns, name, container string, set []corev1.EnvVar, remove []string, cause string) error {
	return c.UpdateTemplate(ctx, k, ns, name, cause, func(t *corev1.PodTemplateSpec) (bool, error) {
		ctrs, err := containersOf(t, container)
		if err != nil {
			return false, err
		}
		changed := false
		for _, ctr := range ctrs {
			before := slices.Clone(ctr.Env)
			ctr.Env = slices.DeleteFunc(ctr.Env, func(e corev1.EnvVar) bool { return slices.Contains(remove, e.Name) })
			for _, e := range set {
				if i := slices.IndexFunc(ctr.Env, func(x corev1.EnvVar) bool { return x.Name == e.Name }); i >= 0 {
					ctr.Env[i] = e
				} else {
					ctr.Env = append(ctr.Env, e)
				}
			}
			if len(ctr.Env) == 0 {
				ctr.Env = nil
			}
			changed = changed || !equality.Semantic.DeepEqual(before, ctr.Env)
		}
		return changed, nil
	})
}

// SetResources sets the limits and requests given (other resources keep theirs)
// of the containers named container ("*": every one). Unchanged: ErrUnchanged.
func (c *Client) SetResources(ctx context.Context, k *object.Kind, ns, name, container string, limits, requests corev1.ResourceList, cause string) error {
	return c.UpdateTemplate(ctx, k, ns, name, cause, func(t *corev1.PodTemplateSpec) (bool, error) {
		ctrs, err := containersOf(t, container)
		if err != nil {
			return false, err
		}
		changed := false
		for _, ctr := range ctrs {
			before := ctr.Resources.DeepCopy()
			for r, q := range limits {
				if ctr.Resources.Limits == nil {
					ctr.Resources.Limits = corev1.ResourceList{}
				}
				ctr.Resources.Limits[r] = q
			}
			for r, q := range requests {
				if ctr.Resources.Requests == nil {
					ctr.Resources.Requests = corev1.ResourceList{}
				}
				ctr.Resources.Requests[r] = q
			}
			for r, req := range ctr.Resources.Requests {
				if lim, ok := ctr.Resources.Limits[r]; ok && req.Cmp(lim) > 0 {
					return false, fmt.Errorf("container %s: %s request %s is more than its limit %s", ctr.Name, r, req.String(), lim.String())
				}
			}
			changed = changed || !equality.Semantic.DeepEqual(before, &ctr.Resources)
		}
		return changed, nil
	})
}

// PausedError says a Deployment already is (or is not) paused, in kubectl's words.
type PausedError struct {
	Name   string
	Paused bool
}

func (e *PausedError) Error() string {
	if e.Paused {
		return fmt.Sprintf("deployments.apps %q is already paused", e.Name)
	}
	return fmt.Sprintf("deployments.apps %q is not paused", e.Name)
}

// SetPaused pauses or resumes a Deployment's rollouts (spec.paused). Already
// so: a *PausedError.
func (c *Client) SetPaused(ctx context.Context, ns, name string, paused bool) error {
	k, _ := object.ByKind("Deployment")
	return c.guarded(ctx, k, ns, name, func(cur *object.Stored) (string, any, error) {
		d := cur.Object.DeepCopyObject().(*appsv1.Deployment)
		if d.Spec.Paused == paused {
			return "", nil, &PausedError{Name: name, Paused: paused}
		}
		d.Spec.Paused, d.Status = paused, appsv1.DeploymentStatus{}
		raw, err := json.Marshal(d)
		if err != nil {
			return "", nil, err
		}
		return object.Updated, &object.Change{Object: raw}, nil
	})
}

// Restart sets kubectl.kubernetes.io/restartedAt on the pod template to now, as
// kubectl rollout restart does: the template changes, so its pods are replaced
// by the Deployment's strategy. A paused Deployment is refused as kubectl does.
func (c *Client) Restart(ctx context.Context, ns, name string, now time.Time) error {
	k, _ := object.ByKind("Deployment")
	cur, err := c.Query.Get(ctx, k, ns, name)
	if err != nil {
		return err
	}
	if cur.Object.(*appsv1.Deployment).Spec.Paused {
		return fmt.Errorf("deployments.apps %q can't restart paused deployment (run rollout resume first)", name)
	}
	err = c.UpdateTemplate(ctx, k, ns, name, "", func(t *corev1.PodTemplateSpec) (bool, error) {
		if t.Annotations == nil {
			t.Annotations = map[string]string{}
		}
		t.Annotations[RestartedAtAnnotation] = now.Format(time.RFC3339)
		return true, nil
	})
	return err
}

// Revision is one revision of a Deployment: the ReplicaSet that holds it.
type Revision struct {
	Number     int64
	ReplicaSet *appsv1.ReplicaSet
}

// Revisions returns the live ReplicaSets the Deployment controls, by revision,
// oldest first, as kubectl rollout history lists them.
func (c *Client) Revisions(ctx context.Context, d *appsv1.Deployment) ([]Revision, error) {
	rsKind, _ := object.ByKind("ReplicaSet")
	objs, _, err := c.Query.List(ctx, rsKind, d.Namespace, "")
	if err != nil {
		return nil, err
	}
	var out []Revision
	for _, o := range objs {
		rs := o.(*appsv1.ReplicaSet)
		if ref := metav1.GetControllerOfNoCopy(rs); ref == nil || ref.UID != d.UID {
			continue
		}
		n, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, Revision{Number: n, ReplicaSet: rs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// Undo restores the pod template of revision to (0: the one before the newest)
// with the annotations of its ReplicaSet, as kubectl rollout undo does. It
// returns what kubectl prints after the name: "rolled back", or "skipped
// rollback (current template already matches revision N)".
func (c *Client) Undo(ctx context.Context, ns, name string, to int64) (string, error) {
	if to < 0 {
		return "", fmt.Errorf("unable to find specified revision %d in history", to)
	}
	k, _ := object.ByKind("Deployment")
	var outcome string
	err := c.guarded(ctx, k, ns, name, func(cur *object.Stored) (string, any, error) {
		d := cur.Object.DeepCopyObject().(*appsv1.Deployment)
		revs, err := c.Revisions(ctx, d)
		if err != nil {
			return "", nil, err
		}
		var target *Revision
		switch {
		case to > 0:
			for i := range revs {
				if revs[i].Number == to {
					target = &revs[i]
				}
			}
			if target == nil {
				return "", nil, fmt.Errorf("unable to find specified revision %d in history", to)
			}
		case len(revs) < 2:
			return "", nil, fmt.Errorf("no rollout history found for deployment %q", name)
		default:
			target = &revs[len(revs)-2]
		}
		if d.Spec.Paused {
			return "", nil, fmt.Errorf("you cannot rollback a paused deployment; resume it first with 'wake rollout resume deployment/%s' and try again", name)
		}
		tmpl := target.ReplicaSet.Spec.Template.DeepCopy()
		delete(tmpl.Labels, hashLabel)
		if len(tmpl.Labels) == 0 {
			tmpl.Labels = nil
		}
		if equality.Semantic.DeepEqual(tmpl, &d.Spec.Template) {
			outcome = fmt.Sprintf("skipped rollback (current template already matches revision %d)", target.Number)
			return "", nil, nil
		}
		ann := map[string]string{}
		for k, v := range d.Annotations {
			if skipOnRollback[k] {
				ann[k] = v
			}
		}
		for k, v := range target.ReplicaSet.Annotations {
			if !skipOnRollback[k] {
				ann[k] = v
			}
		}
		d.Annotations, d.Spec.Template, d.Status = ann, *tmpl, appsv1.DeploymentStatus{}
		raw, err := json.Marshal(d)
		if err != nil {
			return "", nil, err
		}
		outcome = "rolled back"
		return object.Updated, &object.Change{Object: raw}, nil
	})
	return outcome, err
}

// skipOnRollback are the annotations a rollback keeps from the Deployment rather
// than taking from the ReplicaSet, as kubectl's annotationsToSkip.
var skipOnRollback = map[string]bool{
	corev1.LastAppliedConfigAnnotation:          true,
	RevisionAnnotation:                          true,
	"deployment.kubernetes.io/revision-history": true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	appsv1.DeprecatedRollbackTo:                 true,
	"wake.run/rollout-failed":                   true,
}
