package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// ErrForbidden is wrapped by refusals of operations that are never allowed.
var ErrForbidden = errors.New("forbidden")

// Delete deletes one object, guarded by the version it read. A namespace is marked
// Terminating; the namespace controller then deletes its contents and finally the
// namespace. It returns a *query.NotFoundError when the object does not exist.
func (c *Client) Delete(ctx context.Context, k *object.Kind, ns, name string) error {
	if !k.Namespaced {
		ns = ""
	}
	if k.Kind == "Namespace" && name == "default" {
		return fmt.Errorf("%w: namespaces \"default\" is forbidden: this namespace may not be deleted", ErrForbidden)
	}
	return c.guarded(ctx, k, ns, name, func(cur *object.Stored) (string, any, error) {
		d := object.Deletion{UID: string(cur.Object.GetUID())}
		if pod, ok := cur.Object.(*corev1.Pod); ok {
			// Graceful, as Kubernetes: the node stops the containers within the
			// grace period, then the pod is deleted.
			if pod.DeletionTimestamp != nil {
				return "", nil, nil
			}
			d.GracePeriodSeconds = pod.Spec.TerminationGracePeriodSeconds
			return object.Deleting, d, nil
		}
		if k.Kind == "Namespace" {
			if cur.Object.GetDeletionTimestamp() != nil {
				return "", nil, nil // already terminating
			}
			return object.Deleting, d, nil
		}
		return object.Deleted, d, nil
	})
}

// Scale sets spec.replicas of a Deployment or ReplicaSet.
func (c *Client) Scale(ctx context.Context, k *object.Kind, ns, name string, replicas int32) error {
	if replicas < 0 {
		return fmt.Errorf("--replicas=%d: must be 0 or more", replicas)
	}
	return c.guarded(ctx, k, ns, name, func(cur *object.Stored) (string, any, error) {
		obj := cur.Object.DeepCopyObject().(object.Object)
		switch o := obj.(type) {
		case *appsv1.Deployment:
			o.Spec.Replicas = &replicas
			o.Status = appsv1.DeploymentStatus{}
		case *appsv1.ReplicaSet:
			o.Spec.Replicas = &replicas
			o.Status = appsv1.ReplicaSetStatus{}
		default:
			return "", nil, fmt.Errorf("%s cannot be scaled: only deployments and replicasets have replicas", k.Resource)
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return "", nil, err
		}
		return object.Updated, &object.Change{Object: raw}, nil
	})
}

// guarded reads the object, lets decide choose an event (verb and payload; empty
// verb: nothing to do), and appends it guarded by the version read, retrying on
// conflicts.
func (c *Client) guarded(ctx context.Context, k *object.Kind, ns, name string, decide func(*object.Stored) (string, any, error)) error {
	ref := events.Ref{Kind: k.Kind, Namespace: ns, Name: name}
	for attempt := 0; attempt < c.MaxAttempts; attempt++ {
		cur, err := c.Query.Get(ctx, k, ns, name)
		if err != nil {
			return err
		}
		verb, payload, err := decide(cur)
		if err != nil || verb == "" {
			return err
		}
		ev, err := c.newEvent(object.EventType(k, verb), ref, payload)
		if err != nil {
			return err
		}
		version := subjectVersion(cur)
		_, err = c.Log.Append(ctx, ev, version)
		if errors.Is(err, events.ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("%s kept changing under %d attempts; try again", k.Qualified(name), c.MaxAttempts)
}

// SetImage sets the image of named containers (init containers included) in a
// Deployment's or ReplicaSet's pod template; the name "*" means every container.
// Names matching no container are an error that lists the containers there are.
// An unchanged image appends nothing.
func (c *Client) SetImage(ctx context.Context, k *object.Kind, ns, name string, images map[string]string) error {
	return c.guarded(ctx, k, ns, name, func(cur *object.Stored) (string, any, error) {
		obj := cur.Object.DeepCopyObject().(object.Object)
		var spec *corev1.PodSpec
		switch o := obj.(type) {
		case *appsv1.Deployment:
			spec, o.Status = &o.Spec.Template.Spec, appsv1.DeploymentStatus{}
		case *appsv1.ReplicaSet:
			spec, o.Status = &o.Spec.Template.Spec, appsv1.ReplicaSetStatus{}
		case *corev1.Pod:
			return "", nil, fmt.Errorf("pod %q: wake does not change a running pod's image; set it on the Deployment or ReplicaSet that owns it", name)
		default:
			return "", nil, fmt.Errorf("%s have no pod template: set image works on deployments and replicasets", k.Resource)
		}
		changed, err := SetImages(spec, images)
		if err != nil || !changed {
			return "", nil, err
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return "", nil, err
		}
		return object.Updated, &object.Change{Object: raw}, nil
	})
}

// SetImages sets the images of the containers spec names (init containers
// included; "*": every one) and reports whether any changed; a name matching no
// container is an error listing those there are.
func SetImages(spec *corev1.PodSpec, images map[string]string) (bool, error) {
	changed := false
	matched := map[string]bool{}
	var names []string
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			ctr := &list[i]
			names = append(names, ctr.Name)
			img, ok := images[ctr.Name]
			if ok {
				matched[ctr.Name] = true
			} else if img, ok = images["*"]; !ok {
				continue
			}
			if ctr.Image != img {
				ctr.Image, changed = img, true
			}
		}
	}
	for n := range images {
		if n != "*" && !matched[n] {
			return false, fmt.Errorf("unable to find container named %q (containers: %s)", n, strings.Join(names, ", "))
		}
	}
	return changed, nil
}
