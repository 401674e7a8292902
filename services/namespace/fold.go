// Package namespace is the namespace controller: when a namespace is being deleted
// it deletes every object in it, then the namespace itself.
package namespace

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// Projection folds namespaces (version, terminating) and the version of every
// namespaced object, indexed by namespace.
//
// Keys: n\x00<namespace> -> nsState; o\x00<namespace>\x00<kind>\x00<name> -> version;
// l\x00<namespace> -> sequence of the newest event of any object in the namespace;
// d\x00<namespace>\x00<name> -> podMember: what a pod's graceful deletion needs.
//
// It reads objects' own subjects only: a pod's facet in a node's inbox is not the
// subject a deletion of the pod names, nor one that the final deletion's guard
// (ev.*.<namespace>.*) matches.
func Projection() projections.Projection {
	return projections.Projection{Name: "namespaces", Version: 4, Fold: Fold,
		Subjects: []string{events.Prefix + ".*.*.*"}}
}

type nsState struct {
	Version     uint64 `json:"version"`
	Terminating bool   `json:"terminating,omitempty"`
	// Deleting is the event that started the deletion: the cause of every
	// deletion the controller appends.
	Deleting events.Event `json:"deleting,omitempty"`
	// Contents is the sequence of the newest event of any object in the namespace
	// (from lastKey, not stored here): the final deletion is guarded by it, so an
	// object created after the controller saw the namespace empty stops it.
	Contents uint64 `json:"-"`
}

// podMember is what the controller knows of a pod in a namespace beyond its
// version: pods are deleted gracefully, so that their node stops them first.
type podMember struct {
	UID string `json:"uid,omitempty"`
	// Grace is the pod's terminationGracePeriodSeconds.
	Grace    *int64 `json:"grace,omitempty"`
	Deleting bool   `json:"deleting,omitempty"`
}

func nsKey(name string) []byte { return append([]byte("n\x00"), name...) }

func podKey(ns, name string) []byte { return []byte("d\x00" + ns + "\x00" + name) }

// lastKey holds the sequence of the newest event of any object in a namespace.
func lastKey(ns string) []byte { return append([]byte("l\x00"), ns...) }

func objKey(ns, kind, name string) []byte {
	return []byte("o\x00" + ns + "\x00" + kind + "\x00" + name)
}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if !ok {
		return fmt.Errorf("%w: unknown kind %q", object.ErrFold, ev.Object.Kind)
	}
	if ev.Object.Node != "" {
		return nil // a node facet: versions here are of objects' own subjects
	}
	verb := strings.TrimPrefix(ev.Type, k.Token()+".")
	if k.Kind == "Namespace" {
		key := nsKey(ev.Object.Name)
		if verb == object.Deleted {
			return s.Delete(key)
		}
		var st nsState
		if raw, ok, err := s.Get(key); err != nil {
			return err
		} else if ok {
			if err := json.Unmarshal(raw, &st); err != nil {
				return err
			}
		}
		st.Version = ev.Seq
		if verb == object.Deleting && !st.Terminating {
			st.Terminating = true
			st.Deleting = *ev
			st.Deleting.Payload = nil
		}
		data, _ := json.Marshal(st)
		return s.Set(key, data)
	}
	if !k.Namespaced {
		return nil
	}
	if err := s.Set(lastKey(ev.Object.Namespace), []byte(strconv.FormatUint(ev.Seq, 10))); err != nil {
		return err
	}
	key := objKey(ev.Object.Namespace, k.Kind, ev.Object.Name)
	if k.Kind == "Pod" {
		if err := foldPod(s, verb, ev); err != nil {
			return err
		}
	}
	if verb == object.Deleted {
		return s.Delete(key)
	}
	return s.Set(key, []byte(strconv.FormatUint(ev.Seq, 10)))
}

// foldPod keeps a pod's uid, grace period and whether it is being deleted.
func foldPod(s projections.State, verb string, ev *events.Event) error {
	key := podKey(ev.Object.Namespace, ev.Object.Name)
	var m podMember
	switch verb {
	case object.Deleted:
		return s.Delete(key)
	case object.Created, object.Updated, object.Deleting:
	default:
		return nil
	}
	if raw, ok, err := s.Get(key); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
	}
	if verb == object.Created {
		m = podMember{}
	}
	if verb == object.Deleting {
		m.Deleting = true
	} else {
		var ch struct {
			Object struct {
				Metadata struct {
					UID string `json:"uid"`
				} `json:"metadata"`
				Spec struct {
					Grace *int64 `json:"terminationGracePeriodSeconds"`
				} `json:"spec"`
			} `json:"object"`
		}
		if len(ev.Payload) > 0 {
			if err := json.Unmarshal(ev.Payload, &ch); err != nil {
				return fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
			}
		}
		if uid := ch.Object.Metadata.UID; uid != "" && (verb == object.Created || m.UID == "") {
			m.UID = uid
		}
		if g := ch.Object.Spec.Grace; g != nil {
			m.Grace = g
		}
	}
	data, _ := json.Marshal(m)
	return s.Set(key, data)
}
