// Package deployment is the Deployment controller: it owns ReplicaSets keyed by a
// hash of the pod template, rolls a changed template out to a new ReplicaSet by
// the Recreate or RollingUpdate strategy, scales the current ReplicaSet when
// replicas change, and reports progress in the Deployment's status.
package deployment

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Projection folds Deployments and ReplicaSets: every Deployment, every
// ReplicaSet (live, or the version of its deletion), which ReplicaSets each
// Deployment controls, and the touch log of Deployments to reconcile.
//
// Keys (an owner is "<namespace>\x00<name>" of a Deployment):
//
//	d\x00<owner>                   -> the Deployment (object.Stored)
//	u\x00<deployment uid>          -> owner
//	s\x00<namespace>\x00<name>     -> the ReplicaSet (object.Stored)
//	x\x00<namespace>\x00<name>     -> version of the ReplicaSet's deletion (tombstone)
//	i\x00<deployment uid>\x00<namespace>\x00<name> -> "" (the ReplicaSet is controlled by it)
//
// and the touch log (touched.go).
func Projection() projections.Projection {
	return projections.Projection{
		Name:     "deployments",
		Subjects: []string{events.KindSubjects("Deployment", "", false), events.KindSubjects("ReplicaSet", "", false)},
		Version:  1,
		Fold:     Fold,
		Prepare:  object.Prepare,
	}
}

var (
	deployKind, _ = object.ByKind("Deployment")
	rsKind, _     = object.ByKind("ReplicaSet")
)

func ownerOf(namespace, name string) string { return namespace + "\x00" + name }

func deploymentKey(owner string) []byte   { return []byte("d\x00" + owner) }
func uidKey(uid string) []byte            { return []byte("u\x00" + uid) }
func rsKey(ns, name string) []byte        { return []byte("s\x00" + ns + "\x00" + name) }
func tombstoneKey(ns, name string) []byte { return []byte("x\x00" + ns + "\x00" + name) }
func ownedPrefix(uid string) []byte       { return []byte("i\x00" + uid + "\x00") }
func ownedKey(uid, ns, name string) []byte {
	return append(ownedPrefix(uid), ns+"\x00"+name...)
}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	switch ev.Object.Kind {
	case deployKind.Kind:
		return foldDeployment(s, ev)
	case rsKind.Kind:
		return foldReplicaSet(s, ev)
	}
	return fmt.Errorf("%w: the deployments projection does not read kind %q", object.ErrFold, ev.Object.Kind)
}

func foldDeployment(s projections.State, ev *events.Event) error {
	owner := ownerOf(ev.Object.Namespace, ev.Object.Name)
	prev, err := load(s, deployKind, deploymentKey(owner))
	if err != nil {
		return err
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	if next == nil {
		if prev != nil {
			if err := s.Delete(uidKey(string(prev.Object.GetUID()))); err != nil {
				return err
			}
		}
		if err := s.Delete(deploymentKey(owner)); err != nil {
			return err
		}
		return forget(s, owner)
	}
	if prev == nil {
		if err := s.Set(uidKey(string(next.Object.GetUID())), []byte(owner)); err != nil {
			return err
		}
	}
	if err := save(s, deploymentKey(owner), next); err != nil {
		return err
	}
	return touch(s, owner, ev, prev == nil || prev.Object.GetGeneration() != next.Object.GetGeneration())
}

func foldReplicaSet(s projections.State, ev *events.Event) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	prev, err := load(s, rsKind, rsKey(ns, name))
	if err != nil {
		return err
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	prevOwner, nextOwner := controllerUID(prev), controllerUID(next)
	if prevOwner != "" && prevOwner != nextOwner {
		if err := s.Delete(ownedKey(prevOwner, ns, name)); err != nil {
			return err
		}
	}
	if next == nil {
		if err := s.Delete(rsKey(ns, name)); err != nil {
			return err
		}
		if err := s.Set(tombstoneKey(ns, name), []byte(strconv.FormatUint(ev.Seq, 10))); err != nil {
			return err
		}
	} else {
		if err := save(s, rsKey(ns, name), next); err != nil {
			return err
		}
		if prev == nil {
			if err := s.Delete(tombstoneKey(ns, name)); err != nil {
				return err
			}
		}
		if nextOwner != "" {
			if err := s.Set(ownedKey(nextOwner, ns, name), []byte{}); err != nil {
				return err
			}
		}
	}
	for i, uid := range []string{prevOwner, nextOwner} {
		if uid == "" || i == 1 && uid == prevOwner {
			continue
		}
		owner, ok, err := s.Get(uidKey(uid))
		if err != nil {
			return err
		}
		if ok && strings.HasPrefix(string(owner), ns+"\x00") {
			if err := touch(s, string(owner), ev, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// controllerUID is the uid of the object's controller, "" when it has none.
func controllerUID(st *object.Stored) string {
	if st == nil {
		return ""
	}
	if ref := metav1.GetControllerOfNoCopy(st.Object); ref != nil {
		return string(ref.UID)
	}
	return ""
}

func load(rd projections.Reader, k *object.Kind, key []byte) (*object.Stored, error) {
	raw, ok, err := rd.Get(key)
	if err != nil || !ok {
		return nil, err
	}
	return object.DecodeStored(k, raw)
}

func save(s projections.State, key []byte, st *object.Stored) error {
	st.LastApplied = nil // the controller never merges manifests
	data, err := st.Encode()
	if err != nil {
		return err
	}
	return s.Set(key, data)
}
