package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"k8s.io/apimachinery/pkg/labels"
)

// Watch event types, as Kubernetes names them.
const (
	Added    = "ADDED"
	Modified = "MODIFIED"
	Deleted  = "DELETED"
)

// Watch lists the objects of kind k in namespace (all when empty) matching
// selector, then calls fn for every later change, folded from the log from the
// list's checkpoint + 1: no change after the list is missed or repeated. As in
// Kubernetes, an object that comes to match the selector is ADDED and one that
// stops matching is DELETED (in its last matching state); a deleted object is
// passed in its last state. It returns when ctx ends or fn fails.
func (c *Client) Watch(ctx context.Context, k *object.Kind, namespace, selector string, initial func([]object.Object) error, fn func(typ string, obj object.Object) error) error {
	sel, err := labels.Parse(selector)
	if err != nil {
		return fmt.Errorf("label selector %q: %w", selector, err)
	}
	// The fold needs every object, matching or not: an update can make one match.
	all, cp, err := c.Query.List(ctx, k, namespace, "")
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	state := map[string]*object.Stored{}
	var objs []object.Object
	for _, o := range all {
		state[o.GetNamespace()+"/"+o.GetName()] = &object.Stored{Object: o}
		if sel.Matches(labels.Set(o.GetLabels())) {
			objs = append(objs, o)
		}
	}
	if err := initial(objs); err != nil {
		return err
	}
	subjects := []string{events.KindSubjects(k.Kind, namespace, !k.Namespaced)}
	if k.Kind == "Pod" {
		// A pod's status comes from its node, on the pod's facet in the node's inbox.
		ns := "*"
		if namespace != "" {
			ns = events.EncodeToken(namespace)
		}
		subjects = append(subjects, events.Prefix+".node.*.pod."+ns+".*")
	}
	cur, err := c.Log.Read(ctx, events.ReadOptions{From: cp + 1, Subjects: subjects})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer cur.Close()
	for {
		rec, err := cur.Next(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		ev, err := rec.Decode()
		if err != nil {
			continue // a malformed event is not a change of any object
		}
		key := ev.Object.Namespace + "/" + ev.Object.Name
		prev := state[key]
		next, err := object.Fold(prev, ev)
		if err != nil {
			continue
		}
		typ, obj := Modified, (object.Object)(nil)
		switch {
		case next == nil && prev == nil, next != nil && next == prev:
			continue // nothing changed (e.g. a copy of a pod for its node)
		case next == nil:
			typ, obj = Deleted, prev.Object
			delete(state, key)
		case prev == nil:
			typ, obj = Added, next.Object
			state[key] = next
		default:
			obj = next.Object
			state[key] = next
		}
		wasIn := prev != nil && sel.Matches(labels.Set(prev.Object.GetLabels()))
		isIn := next != nil && sel.Matches(labels.Set(next.Object.GetLabels()))
		switch {
		case !wasIn && !isIn:
			continue
		case !wasIn:
			typ = Added
		case !isIn:
			typ, obj = Deleted, prev.Object
		}
		if err := fn(typ, obj); err != nil {
			return err
		}
	}
}
