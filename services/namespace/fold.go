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
// l\x00<namespace> -> sequence of the newest event of any object in the namespace.
//
// It reads objects' own subjects only: a pod's facet in a node's inbox is not the
// subject a deletion of the pod names, nor one that the final deletion's guard
// (ev.*.<namespace>.*) matches.
func Projection() projections.Projection {
	return projections.Projection{Name: "namespaces", Version: 3, Fold: Fold,
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

func nsKey(name string) []byte { return append([]byte("n\x00"), name...) }

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
	if verb == object.Deleted {
		return s.Delete(key)
	}
	return s.Set(key, []byte(strconv.FormatUint(ev.Seq, 10)))
}
