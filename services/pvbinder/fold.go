// Package pvbinder is the persistent volume controller, after Kubernetes'
// PersistentVolume binder and k3s's local-path provisioner: it binds each
// PersistentVolumeClaim to a matching available PersistentVolume, provisions a
// local directory volume on the node of the claim's first pod for a
// WaitForFirstConsumer class of the built-in provisioner, keeps both objects'
// phases as kubectl shows them, and reclaims the volume of a deleted claim by
// its policy: Retain leaves it Released, Delete deletes it and tells its node to
// remove the directory.
package pvbinder

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
)

// Projection folds claims, volumes, classes, the pods that mount claims and the
// nodes (their labels and local-path root).
//
// Keys:
//
//	c\x00<namespace>\x00<name> -> record (PersistentVolumeClaim)
//	v\x00<name>                -> record (PersistentVolume)
//	s\x00<name>                -> record (StorageClass)
//	p\x00<namespace>\x00<name> -> podRec, only for pods that mount a claim
//	n\x00<name>                -> nodeRec
//	r\x00<name>                -> "" (the volume's node was told to remove its directory)
//	t\x00<name>                -> "" (a StorageClass that existed and was deleted)
func Projection() projections.Projection {
	return projections.Projection{
		Name: "pvbinder", Version: 1, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{
			events.KindSubjects("PersistentVolumeClaim", "", false),
			events.KindSubjects("PersistentVolume", "", true),
			events.KindSubjects("StorageClass", "", true),
			events.KindSubjects("Pod", "", false),
			events.KindSubjects("Node", "", true),
			events.Prefix + ".node.*.persistentvolume.*.*",
		},
	}
}

// record is a stored object, the version of its subject and the event that
// last changed it (the cause of what the binder appends about it).
type record struct {
	Stored  json.RawMessage `json:"stored"`
	Version uint64          `json:"version"`
	EventID string          `json:"eventID"`
	Time    time.Time       `json:"time"`
}

// podRec is what the binder keeps of a pod that mounts claims.
type podRec struct {
	Node     string   `json:"node,omitempty"`
	Claims   []string `json:"claims"`
	Deleting bool     `json:"deleting,omitempty"`
}

// nodeRec is a registered node.
type nodeRec struct {
	Labels map[string]string `json:"labels,omitempty"`
	// Root is where the node's agent keeps local-path volumes (object.LocalPathRootAnnotation).
	Root string `json:"root,omitempty"`
	// EventID and Time are of the event that last changed the node.
	EventID string    `json:"eventID"`
	Time    time.Time `json:"time"`
}

func key(prefix, ns, name string) []byte {
	if ns == "" {
		return []byte(prefix + "\x00" + name)
	}
	return []byte(prefix + "\x00" + ns + "\x00" + name)
}

var prefixOf = map[string]string{"PersistentVolumeClaim": "c", "PersistentVolume": "v", "StorageClass": "s"}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if ok && k.Kind == "PersistentVolume" && ev.Object.Node != "" {
		if ev.Type != object.EventType(k, object.Revoked) {
			return nil
		}
		return s.Set(key("r", "", ev.Object.Name), []byte{})
	}
	if !ok || ev.Object.Node != "" {
		return fmt.Errorf("%w: the volume binder folds claims, volumes, classes, pods and nodes, not %s", object.ErrFold, ev.Object)
	}
	switch k.Kind {
	case "Pod":
		return foldPod(s, k, ev)
	case "Node":
		return foldNode(s, k, ev)
	}
	prefix, ok := prefixOf[k.Kind]
	if !ok {
		return fmt.Errorf("%w: the volume binder does not fold %s", object.ErrFold, k.Kind)
	}
	kk := key(prefix, ev.Object.Namespace, ev.Object.Name)
	prev, _, err := readRecord(s, k, kk)
	if err != nil {
		return err
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	if next == nil {
		if k.Kind == "StorageClass" {
			if err := s.Set(key("t", "", ev.Object.Name), []byte{}); err != nil {
				return err
			}
		}
		return s.Delete(kk)
	}
	next.LastApplied = nil
	stored, err := next.Encode()
	if err != nil {
		return err
	}
	data, _ := json.Marshal(record{Stored: stored, Version: ev.Seq, EventID: ev.ID, Time: ev.Time})
	return s.Set(kk, data)
}

func readRecord(rd projections.Reader, k *object.Kind, kk []byte) (*object.Stored, *record, error) {
	raw, ok, err := rd.Get(kk)
	if err != nil || !ok {
		return nil, nil, err
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, nil, err
	}
	st, err := object.DecodeStored(k, rec.Stored)
	return st, &rec, err
}

// foldPod keeps, for a pod that mounts claims, its node, claims and deletion.
func foldPod(s projections.State, k *object.Kind, ev *events.Event) error {
	kk := key("p", ev.Object.Namespace, ev.Object.Name)
	verb := strings.TrimPrefix(ev.Type, k.Token()+".")
	switch verb {
	case object.Deleted:
		return s.Delete(kk)
	case object.Created:
		pc := struct {
			Object corev1.Pod `json:"object"`
		}{}
		if err := json.Unmarshal(ev.Payload, &pc); err != nil {
			return fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
		}
		rec := podRec{Claims: Claims(&pc.Object), Node: pc.Object.Spec.NodeName}
		if len(rec.Claims) == 0 {
			return nil
		}
		data, _ := json.Marshal(rec)
		return s.Set(kk, data)
	}
	raw, ok, err := s.Get(kk)
	if err != nil || !ok {
		return err // a pod without claims: nothing kept
	}
	var rec podRec
	if err := json.Unmarshal(raw, &rec); err != nil {
		return err
	}
	switch verb {
	case object.Bound:
		var b object.Binding
		if err := json.Unmarshal(ev.Payload, &b); err != nil {
			return fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
		}
		rec.Node = b.Node
	case object.Deleting:
		rec.Deleting = true
	default:
		return nil
	}
	data, _ := json.Marshal(rec)
	return s.Set(kk, data)
}

// Claims names the claims a pod mounts (persistentVolumeClaim volumes).
func Claims(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		}
	}
	return out
}

func foldNode(s projections.State, k *object.Kind, ev *events.Event) error {
	kk := key("n", "", ev.Object.Name)
	verb := strings.TrimPrefix(ev.Type, k.Token()+".")
	switch verb {
	case object.Deleted:
		return s.Delete(kk)
	case object.Created, object.Updated:
		pc := struct {
			Object corev1.Node `json:"object"`
		}{}
		if err := json.Unmarshal(ev.Payload, &pc); err != nil {
			return fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
		}
		data, _ := json.Marshal(nodeRec{Labels: pc.Object.Labels, Root: pc.Object.Annotations[object.LocalPathRootAnnotation],
			EventID: ev.ID, Time: ev.Time})
		return s.Set(kk, data)
	}
	return nil
}
