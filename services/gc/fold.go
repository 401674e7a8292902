// Package gc is the garbage collector: when an object is deleted, or is being
// deleted, it deletes every object whose ownerReferences name its uid, so that
// deleting a Deployment deletes its ReplicaSets, and they their pods. Deletion
// propagates in the background only: the owner goes first, dependents follow.
package gc

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Projection folds every object's uid, version and owners, indexed by owner, and
// the owners that are gone (being deleted, deleted, or never seen) while objects
// still name them.
//
// Keys:
//
//	o\x00<kind>\x00<namespace>\x00<name>  -> objectState
//	u\x00<uid>                           -> "live" or "deleting" (absent: deleted or unknown)
//	d\x00<owner uid>\x00<kind>\x00<namespace>\x00<name> -> "" (the object names the owner)
//	g\x00<owner uid>                     -> the event that made the owner gone (no payload)
//
// and the touch log of gone owners (reconcile.Touch).
func Projection() projections.Projection {
	return projections.Projection{
		Name: "gc",
		// Every object's subject, ev.<kind>.<namespace>.<name>; nothing else.
		Subjects: []string{events.Prefix + ".*.*.*"},
		Version:  1,
		Fold:     Fold,
	}
}

// objectState is what the collector keeps of one object.
type objectState struct {
	UID      string   `json:"uid"`
	Version  uint64   `json:"version"`
	Owners   []string `json:"owners,omitempty"` // uids of its ownerReferences
	Deleting bool     `json:"deleting,omitempty"`
	// Grace is a pod's spec.terminationGracePeriodSeconds: its deletion is graceful.
	Grace *int64 `json:"grace,omitempty"`
}

const (
	live     = "live"
	deleting = "deleting"
)

func objectKey(ref events.Ref) []byte {
	return []byte("o\x00" + ref.Kind + "\x00" + ref.Namespace + "\x00" + ref.Name)
}
func uidKey(uid string) []byte           { return []byte("u\x00" + uid) }
func goneKey(uid string) []byte          { return []byte("g\x00" + uid) }
func dependentsPrefix(uid string) []byte { return []byte("d\x00" + uid + "\x00") }
func dependentKey(uid string, ref events.Ref) []byte {
	return append(dependentsPrefix(uid), ref.Kind+"\x00"+ref.Namespace+"\x00"+ref.Name...)
}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if !ok {
		return fmt.Errorf("%w: unknown kind %q", object.ErrFold, ev.Object.Kind)
	}
	verb, ok := strings.CutPrefix(ev.Type, k.Token()+".")
	if !ok {
		return fmt.Errorf("%w: event type %q does not belong to kind %s", object.ErrFold, ev.Type, k.Kind)
	}
	key := objectKey(ev.Object)
	prev, err := loadState(s, key)
	if err != nil {
		return err
	}
	switch verb {
	case object.Created, object.Updated:
		return foldChange(s, k, verb, key, prev, ev)
	case object.Deleted:
		return foldDeleted(s, key, prev, ev)
	}
	// deleting, status, bound, unschedulable, and any verb to come: the object's
	// subject moved to a new version.
	if prev == nil {
		return fmt.Errorf("%w: %s %s but it does not exist", object.ErrFold, ev.Object, verb)
	}
	next := *prev
	next.Version = ev.Seq
	if verb == object.Deleting && !prev.Deleting {
		next.Deleting = true
		if err := s.Set(uidKey(prev.UID), []byte(deleting)); err != nil {
			return err
		}
		if err := ownerGone(s, prev.UID, ev); err != nil {
			return err
		}
	}
	if err := saveState(s, key, &next); err != nil {
		return err
	}
	return touchGoneOwners(s, next.Owners, ev)
}

func foldChange(s projections.State, k *object.Kind, verb string, key []byte, prev *objectState, ev *events.Event) error {
	var ch object.Change
	if err := json.Unmarshal(ev.Payload, &ch); err != nil || len(ch.Object) == 0 {
		return fmt.Errorf("%w: %s payload: want {object, applied}: %v", object.ErrFold, ev.Type, err)
	}
	var obj struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(ch.Object, &obj); err != nil {
		return fmt.Errorf("%w: %s object: %v", object.ErrFold, ev.Type, err)
	}
	next := &objectState{Version: ev.Seq}
	switch {
	case verb == object.Created && prev != nil:
		return fmt.Errorf("%w: %s created but it already exists", object.ErrFold, ev.Object)
	case verb == object.Updated && prev == nil:
		return fmt.Errorf("%w: %s updated but it does not exist", object.ErrFold, ev.Object)
	case prev == nil && obj.Metadata.UID == "":
		return fmt.Errorf("%w: created %s without a uid", object.ErrFold, ev.Object)
	case prev == nil:
		next.UID = string(obj.Metadata.UID)
		if err := s.Set(uidKey(next.UID), []byte(live)); err != nil {
			return err
		}
		if err := revive(s, next.UID); err != nil {
			return err
		}
	default:
		next.UID, next.Deleting = prev.UID, prev.Deleting
	}
	for _, o := range obj.Metadata.OwnerReferences {
		next.Owners = append(next.Owners, string(o.UID))
	}
	if k.Kind == "Pod" {
		next.Grace = obj.Spec.TerminationGracePeriodSeconds
	}
	if err := saveState(s, key, next); err != nil {
		return err
	}
	if err := reindex(s, ev.Object, prev, next.Owners); err != nil {
		return err
	}
	for _, owner := range next.Owners {
		gone, err := isGone(s, owner)
		if err != nil {
			return err
		}
		if gone {
			// An owner deleted before its dependent was folded, or never seen:
			// the dependent is garbage from the start.
			if err := markGone(s, owner, ev); err != nil {
				return err
			}
		}
	}
	return touchGoneOwners(s, next.Owners, ev)
}

func foldDeleted(s projections.State, key []byte, prev *objectState, ev *events.Event) error {
	uid := ""
	if prev != nil {
		uid = prev.UID
		if err := s.Delete(key); err != nil {
			return err
		}
		if err := reindex(s, ev.Object, prev, nil); err != nil {
			return err
		}
		if err := touchGoneOwners(s, prev.Owners, ev); err != nil {
			return err
		}
	} else {
		var d object.Deletion
		_ = json.Unmarshal(ev.Payload, &d)
		uid = d.UID
	}
	if uid == "" {
		return nil
	}
	if err := s.Delete(uidKey(uid)); err != nil {
		return err
	}
	return ownerGone(s, uid, ev)
}

// reindex moves the object from the dependents of its previous owners to those
// of owners; an owner left without dependents needs no collection any more.
func reindex(s projections.State, ref events.Ref, prev *objectState, owners []string) error {
	keep := map[string]bool{}
	for _, o := range owners {
		keep[o] = true
		if err := s.Set(dependentKey(o, ref), []byte{}); err != nil {
			return err
		}
	}
	if prev == nil {
		return nil
	}
	for _, o := range prev.Owners {
		if keep[o] {
			continue
		}
		if err := s.Delete(dependentKey(o, ref)); err != nil {
			return err
		}
		if err := settle(s, o); err != nil {
			return err
		}
	}
	return nil
}

// ownerGone records that uid's dependents, if any, are garbage because of ev.
func ownerGone(s projections.State, uid string, ev *events.Event) error {
	has, err := hasDependents(s, uid)
	if err != nil || !has {
		return err
	}
	if err := markGone(s, uid, ev); err != nil {
		return err
	}
	return reconcile.Touch(s, uid, ev.Seq)
}

// markGone records the first event that made owner gone.
func markGone(s projections.State, owner string, ev *events.Event) error {
	if _, ok, err := s.Get(goneKey(owner)); err != nil || ok {
		return err
	}
	cause := *ev
	cause.Payload = nil
	data, err := json.Marshal(cause)
	if err != nil {
		return err
	}
	return s.Set(goneKey(owner), data)
}

// settle forgets a gone owner once no object names it any more.
func settle(s projections.State, owner string) error {
	has, err := hasDependents(s, owner)
	if err != nil || has {
		return err
	}
	if err := s.Delete(goneKey(owner)); err != nil {
		return err
	}
	return reconcile.Forget(s, owner)
}

// revive takes back the verdict on an owner that objects named before it was
// created: they are not garbage.
func revive(s projections.State, uid string) error {
	if _, ok, err := s.Get(goneKey(uid)); err != nil || !ok {
		return err
	}
	if err := s.Delete(goneKey(uid)); err != nil {
		return err
	}
	return reconcile.Forget(s, uid)
}

// touchGoneOwners marks for collection the gone owners of an object that changed:
// the decision about it must be made again from its new version.
func touchGoneOwners(s projections.State, owners []string, ev *events.Event) error {
	for _, o := range owners {
		if _, ok, err := s.Get(goneKey(o)); err != nil {
			return err
		} else if ok {
			if err := reconcile.Touch(s, o, ev.Seq); err != nil {
				return err
			}
		}
	}
	return nil
}

func isGone(rd projections.Reader, uid string) (bool, error) {
	v, ok, err := rd.Get(uidKey(uid))
	return err == nil && (!ok || string(v) != live), err
}

func hasDependents(rd projections.Reader, uid string) (bool, error) {
	found := false
	err := rd.Scan(dependentsPrefix(uid), false, func(_, _ []byte) bool {
		found = true
		return false
	})
	return found, err
}

func loadState(rd projections.Reader, key []byte) (*objectState, error) {
	raw, ok, err := rd.Get(key)
	if err != nil || !ok {
		return nil, err
	}
	var st objectState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func saveState(s projections.State, key []byte, st *objectState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.Set(key, data)
}
