package namespace

import (
	"encoding/json"
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/reconcile"
)

// Actor is the identity the controller appends as.
const Actor = "system:namespace-controller"

// Member is one object inside a namespace, at its current version.
type Member struct {
	Ref     events.Ref
	Version uint64
	// Pod is set for pods: they are deleted gracefully.
	Pod *podMember
}

// Action is one guarded append the controller decides on: Expected is the version
// of the event's own subject, or, when Guard is set, of the newest event matching
// Guard.
type Action = reconcile.Action

// Decide returns what to append for a terminating namespace: a deletion of every
// member, or, when none is left, the deletion of the namespace itself. Pods are
// deleted gracefully, as Kubernetes' namespace controller does (pod.deleting with
// the pod's grace period: its node stops it and reports so, then the dispatcher
// deletes it); a pod already being deleted is left to finish. Every other kind is
// deleted at once. Event ids are derived from the cause and the version decided
// from, so a retry after a crash appends nothing twice. It is pure.
func Decide(ns string, st nsState, members []Member) []Action {
	if !st.Terminating {
		return nil
	}
	cause := &st.Deleting
	var out []Action
	left := false
	for _, m := range members {
		k, ok := object.ByKind(m.Ref.Kind)
		if !ok {
			continue
		}
		left = true
		if k.Kind == "Pod" {
			if m.Pod != nil && m.Pod.Deleting {
				continue
			}
			out = append(out, podDeletion(k, m, cause))
			continue
		}
		out = append(out, deletion(k, object.Deleted, m.Ref, m.Version, cause))
	}
	if !left {
		k, _ := object.ByKind("Namespace")
		a := deletion(k, object.Deleted, events.Ref{Kind: "Namespace", Name: ns}, st.Version, cause)
		a.Expected, a.Guard = st.Contents, contentsSubject(ns)
		out = append(out, a)
	}
	return out
}

func deletion(k *object.Kind, verb string, ref events.Ref, version uint64, cause *events.Event) Action {
	typ := object.EventType(k, verb)
	ev := &events.Event{
		ID:     events.DerivedID(Actor, cause.ID, typ, ref, version),
		Type:   typ,
		Object: ref,
		Time:   cause.Time,
		Actor:  Actor,
		Reason: fmt.Sprintf("namespace %s is being deleted", nsOf(ref, cause)),
		Schema: events.SchemaVersion,
	}
	ev.CausedBy(cause)
	return Action{Event: ev, Expected: version}
}

// podDeletion is the graceful deletion of a pod member.
func podDeletion(k *object.Kind, m Member, cause *events.Event) Action {
	a := deletion(k, object.Deleting, m.Ref, m.Version, cause)
	var d object.Deletion
	if m.Pod != nil {
		d.UID, d.GracePeriodSeconds = m.Pod.UID, m.Pod.Grace
	}
	a.Event.Payload, _ = json.Marshal(d)
	return a
}

func nsOf(ref events.Ref, cause *events.Event) string {
	if ref.Namespace != "" {
		return ref.Namespace
	}
	return cause.Object.Name
}

// contentsSubject matches the events of every object in namespace ns.
func contentsSubject(ns string) string {
	return events.Prefix + ".*." + events.EncodeToken(ns) + ".*"
}
