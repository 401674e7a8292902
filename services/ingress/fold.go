// Package ingress is wake's ingress controller in the control plane: it
// creates wake's IngressClass (the default class, controller
// wake.run/ingress-controller) once an Ingress exists, writes the addresses of the
// nodes, whose agents proxy the traffic (node/ingress), into the status of
// every Ingress of wake's class (the ADDRESS of `get ing`), and says, in an
// event on the Ingress, why it leaves an Ingress of another class alone.
package ingress

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// Actor is the identity the controller appends as.
const Actor = "system:ingress-controller"

// Projection folds Ingresses, IngressClasses and Nodes.
//
// Keys:
//
//	i\x00<namespace>\x00<name> -> record (Ingress)
//	c\x00<name>                -> record (IngressClass)
//	n\x00<name>                -> record (Node)
//	t\x00<name>                -> "" (an IngressClass that existed and was deleted)
func Projection() projections.Projection {
	return projections.Projection{
		Name: "ingress", Version: 1, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{
			events.KindSubjects("Ingress", "", false),
			events.KindSubjects("IngressClass", "", true),
			events.KindSubjects("Node", "", true),
		},
	}
}

// record is a stored object, its subject's version, the event that last
// changed it, and (an Ingress) the reason of the controller's newest event on
// it.
type record struct {
	Stored  json.RawMessage `json:"stored"`
	Version uint64          `json:"version"`
	EventID string          `json:"eventID"`
	Time    time.Time       `json:"time"`
	Note    string          `json:"note,omitempty"`
}

var prefixOf = map[string]string{"Ingress": "i", "IngressClass": "c", "Node": "n"}

func key(prefix, ns, name string) []byte {
	if ns == "" {
		return []byte(prefix + "\x00" + name)
	}
	return []byte(prefix + "\x00" + ns + "\x00" + name)
}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	prefix := ""
	if ok {
		prefix = prefixOf[k.Kind]
	}
	if prefix == "" || ev.Object.Node != "" {
		return fmt.Errorf("%w: the ingress controller folds Ingresses, IngressClasses and Nodes, not %s", object.ErrFold, ev.Object)
	}
	kk := key(prefix, ev.Object.Namespace, ev.Object.Name)
	var prev *object.Stored
	var rec record
	if raw, found, err := s.Get(kk); err != nil {
		return err
	} else if found {
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		if prev, err = object.DecodeStored(k, rec.Stored); err != nil {
			return err
		}
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	if next == nil {
		if k.Kind == "IngressClass" {
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
	note := rec.Note
	if ev.Actor == Actor {
		note = ev.Reason
	}
	data, _ := json.Marshal(record{Stored: stored, Version: ev.Seq, EventID: ev.ID, Time: ev.Time, Note: note})
	return s.Set(kk, data)
}
