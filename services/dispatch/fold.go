// Package dispatch is the node-inbox dispatcher. It forwards each bound pod, as it
// must run, into its node's inbox (ev.node.<node>.pod.<ns>.<name>), so a node agent
// reads only its own work; and it finishes pod deletions: a deleting pod that never
// reached a node, or that its node has stopped, is deleted.
package dispatch

import (
	"encoding/json"
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// Projection folds pods (from their own subjects) and their node facets.
//
// Keys: p\x00<namespace>\x00<name> -> podRecord; f\x00<namespace>\x00<name> -> facet.
func Projection() projections.Projection {
	return projections.Projection{
		Name: "dispatch", Version: 1, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{events.KindSubjects("Pod", "", false), events.Prefix + ".node.*.pod.*.*"},
	}
}

type podRecord struct {
	Stored      json.RawMessage `json:"stored"`
	EventID     string          `json:"eventID"`
	Correlation string          `json:"correlation,omitempty"`
}

// facet is what the dispatcher knows of a pod's facet in its node's inbox.
type facet struct {
	Node string `json:"node"`
	// Version is the sequence of the newest event on the facet subject.
	Version uint64 `json:"version"`
	// Assigned is the pod version last forwarded; Stopped that the node released it.
	Assigned uint64 `json:"assigned,omitempty"`
	Stopped  bool   `json:"stopped,omitempty"`
}

func key(prefix, ns, name string) []byte { return []byte(prefix + "\x00" + ns + "\x00" + name) }

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	if ev.Object.Kind != "Pod" {
		return fmt.Errorf("%w: dispatch folds pods, not %q", object.ErrFold, ev.Object.Kind)
	}
	if ev.Object.Node != "" {
		return foldFacet(s, ev)
	}
	pk := key("p", ev.Object.Namespace, ev.Object.Name)
	var prev *object.Stored
	if raw, ok, err := s.Get(pk); err != nil {
		return err
	} else if ok {
		var rec podRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		k, _ := object.ByKind("Pod")
		if prev, err = object.DecodeStored(k, rec.Stored); err != nil {
			return err
		}
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	if next == nil {
		if err := s.Delete(pk); err != nil {
			return err
		}
		return s.Delete(key("f", ev.Object.Namespace, ev.Object.Name))
	}
	next.LastApplied = nil
	stored, err := next.Encode()
	if err != nil {
		return err
	}
	data, _ := json.Marshal(podRecord{Stored: stored, EventID: ev.ID, Correlation: ev.Correlation})
	return s.Set(pk, data)
}

func foldFacet(s projections.State, ev *events.Event) error {
	fk := key("f", ev.Object.Namespace, ev.Object.Name)
	var f facet
	if raw, ok, err := s.Get(fk); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal(raw, &f); err != nil {
			return err
		}
	}
	f.Node, f.Version = ev.Object.Node, ev.Seq
	switch ev.Type {
	case "pod." + object.Assigned:
		var a object.Assignment
		if err := json.Unmarshal(ev.Payload, &a); err != nil {
			return fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
		}
		f.Assigned = a.Version
	case "pod." + object.Stopped:
		f.Stopped = true
	}
	data, _ := json.Marshal(f)
	return s.Set(fk, data)
}
