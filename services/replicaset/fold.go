// Package replicaset is the ReplicaSet controller: it keeps spec.replicas pods
// owned by each ReplicaSet alive, creating pods from the template under generated
// names and deleting the surplus gracefully, and reports the counts in the
// ReplicaSet's status.
package replicaset

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Projection folds ReplicaSets and pods: every ReplicaSet, every pod (live, or the
// version of its deletion) with the status its node reports through the pod's
// facet in the node's inbox, which pods each ReplicaSet controls, how many pods
// were ever created for each, and the touch log of ReplicaSets to reconcile.
//
// Keys (an owner is "<namespace>\x00<name>" of a ReplicaSet):
//
//	r\x00<owner>                       -> the ReplicaSet (object.Stored)
//	u\x00<replicaset uid>              -> owner
//	k\x00<replicaset uid>              -> pods created with it as controller (decimal)
//	p\x00<namespace>\x00<name>         -> the pod (object.Stored)
//	x\x00<namespace>\x00<name>         -> version of the pod's deletion (tombstone)
//	i\x00<replicaset uid>\x00<namespace>\x00<name> -> "" (the pod is controlled by it)
//
// and the touch log (touched.go).
func Projection() projections.Projection {
	return projections.Projection{
		Name: "replicasets",
		Subjects: []string{
			events.KindSubjects("ReplicaSet", "", false),
			events.KindSubjects("Pod", "", false),
			events.Prefix + ".node.*.pod.>", // pods' facets: the status their nodes report
		},
		Version: 1,
		Fold:    Fold,
		Prepare: object.Prepare,
	}
}

var (
	rsKind, _  = object.ByKind("ReplicaSet")
	podKind, _ = object.ByKind("Pod")
)

func ownerOf(namespace, name string) string { return namespace + "\x00" + name }

func rsKey(owner string) []byte           { return []byte("r\x00" + owner) }
func uidKey(uid string) []byte            { return []byte("u\x00" + uid) }
func counterKey(uid string) []byte        { return []byte("k\x00" + uid) }
func podKey(ns, name string) []byte       { return []byte("p\x00" + ns + "\x00" + name) }
func tombstoneKey(ns, name string) []byte { return []byte("x\x00" + ns + "\x00" + name) }
func ownedPrefix(uid string) []byte       { return []byte("i\x00" + uid + "\x00") }
func ownedKey(uid, ns, name string) []byte {
	return append(ownedPrefix(uid), ns+"\x00"+name...)
}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	switch ev.Object.Kind {
	case rsKind.Kind:
		return foldReplicaSet(s, ev)
	case podKind.Kind:
		return foldPod(s, ev)
	}
	return fmt.Errorf("%w: the replicasets projection does not read kind %q", object.ErrFold, ev.Object.Kind)
}

func foldReplicaSet(s projections.State, ev *events.Event) error {
	owner := ownerOf(ev.Object.Namespace, ev.Object.Name)
	prev, err := load(s, rsKind, rsKey(owner))
	if err != nil {
		return err
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	if next == nil {
		if prev != nil {
			uid := string(prev.Object.GetUID())
			if err := s.Delete(uidKey(uid)); err != nil {
				return err
			}
			if err := s.Delete(counterKey(uid)); err != nil {
				return err
			}
		}
		if err := s.Delete(rsKey(owner)); err != nil {
			return err
		}
		return forget(s, owner)
	}
	if prev == nil {
		if err := s.Set(uidKey(string(next.Object.GetUID())), []byte(owner)); err != nil {
			return err
		}
	}
	if err := save(s, rsKey(owner), next); err != nil {
		return err
	}
	return touch(s, owner, ev, prev == nil || !equality.Semantic.DeepEqual(specOf(prev), specOf(next)))
}

func foldPod(s projections.State, ev *events.Event) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	prev, err := load(s, podKind, podKey(ns, name))
	if err != nil {
		return err
	}
	if prev == nil && ev.Object.Node != "" {
		return nil // a node's report about a pod that no longer exists
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
		if err := s.Delete(podKey(ns, name)); err != nil {
			return err
		}
		if err := s.Set(tombstoneKey(ns, name), []byte(strconv.FormatUint(ev.Seq, 10))); err != nil {
			return err
		}
	} else {
		if err := save(s, podKey(ns, name), next); err != nil {
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
		if !ok || !strings.HasPrefix(string(owner), ns+"\x00") {
			continue // not a ReplicaSet this projection knows, or in another namespace
		}
		if prev == nil && uid == nextOwner {
			if err := countCreated(s, uid); err != nil {
				return err
			}
		}
		if err := touch(s, string(owner), ev, countsChanged(prev, next)); err != nil {
			return err
		}
	}
	return nil
}

func specOf(st *object.Stored) *appsv1.ReplicaSetSpec { return &st.Object.(*appsv1.ReplicaSet).Spec }

// countsChanged reports whether a pod event can change which pods count as a
// ReplicaSet's replicas: it came or went, was relabelled or re-owned, began
// deleting, or finished.
func countsChanged(prev, next *object.Stored) bool {
	if prev == nil || next == nil {
		return true
	}
	a, b := prev.Object.(*corev1.Pod), next.Object.(*corev1.Pod)
	return !maps.Equal(a.Labels, b.Labels) || controllerUID(prev) != controllerUID(next) ||
		(a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil) || finished(a) != finished(b)
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// countCreated counts one more pod created with the ReplicaSet uid as controller.
func countCreated(s projections.State, uid string) error {
	n, err := readCounter(s, uid)
	if err != nil {
		return err
	}
	return s.Set(counterKey(uid), []byte(strconv.FormatUint(n+1, 10)))
}

func readCounter(rd projections.Reader, uid string) (uint64, error) {
	raw, ok, err := rd.Get(counterKey(uid))
	if err != nil || !ok {
		return 0, err
	}
	return strconv.ParseUint(string(raw), 10, 64)
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
