package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/query"
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
	return c.follow(ctx, cp, subjects, state, sel, fn)
}

// WatchObject is Watch for the one object of kind k named name in namespace
// (ignored for cluster-scoped kinds), as kubectl's get NAME --watch: initial
// gets the object as it is now, then fn every later change of it, folded from
// the log from that answer's checkpoint + 1. A deletion is passed as DELETED in
// the object's last state, and an object re-created under the same name as
// ADDED. A missing object is a *query.NotFoundError and nothing is watched.
func (c *Client) WatchObject(ctx context.Context, k *object.Kind, namespace, name string, initial func(object.Object) error, fn func(typ string, obj object.Object) error) error {
	if !k.Namespaced {
		namespace = ""
	}
	st, cp, err := c.Query.GetAt(ctx, k, namespace, name, query.At{})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := initial(st.Object); err != nil {
		return err
	}
	ref := events.Ref{Kind: k.Kind, Namespace: namespace, Name: name}
	subjects := []string{ref.Subject()}
	if k.Kind == "Pod" {
		subjects = append(subjects, events.Prefix+".node.*.pod."+events.EncodeToken(namespace)+"."+events.EncodeToken(name))
	}
	state := map[string]*object.Stored{namespace + "/" + name: st}
	return c.follow(ctx, cp, subjects, state, labels.Everything(), fn)
}

// follow folds the events on subjects from sequence cp + 1 into state (keyed
// namespace/name) and calls fn for every change of an object that matches sel,
// until ctx ends or fn fails.
func (c *Client) follow(ctx context.Context, cp uint64, subjects []string, state map[string]*object.Stored, sel labels.Selector, fn func(typ string, obj object.Object) error) error {
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
