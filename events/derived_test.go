package events_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/wake-run/wake/events"
)

func TestDerivedID(t *testing.T) {
	type in struct {
		actor, cause, typ string
		ref               events.Ref
		version           uint64
	}
	base := in{"system:replicaset-controller", "cause-1", "pod.created", events.Ref{Kind: "Pod", Namespace: "shop", Name: "web-x"}, 7}
	id := func(i in) string { return events.DerivedID(i.actor, i.cause, i.typ, i.ref, i.version) }
	if a, b := id(base), id(base); a != b {
		t.Fatalf("the same decision got two ids: %s, %s", a, b)
	}
	others := map[string]in{
		"actor":     {"system:deployment-controller", base.cause, base.typ, base.ref, base.version},
		"cause":     {base.actor, "cause-2", base.typ, base.ref, base.version},
		"no cause":  {base.actor, "", base.typ, base.ref, base.version},
		"type":      {base.actor, base.cause, "pod.deleting", base.ref, base.version},
		"kind":      {base.actor, base.cause, base.typ, events.Ref{Kind: "ReplicaSet", Namespace: "shop", Name: "web-x"}, base.version},
		"namespace": {base.actor, base.cause, base.typ, events.Ref{Kind: "Pod", Namespace: "shop2", Name: "web-x"}, base.version},
		"name":      {base.actor, base.cause, base.typ, events.Ref{Kind: "Pod", Namespace: "shop", Name: "web-y"}, base.version},
		"facet":     {base.actor, base.cause, base.typ, events.Ref{Kind: "Pod", Namespace: "shop", Name: "web-x", Node: "n1"}, base.version},
		"version":   {base.actor, base.cause, base.typ, base.ref, 8},
		"version 0": {base.actor, base.cause, base.typ, base.ref, 0},
		// Field boundaries moved: a "|"-joined encoding would give each pair one id.
		"actor a|b, cause c": {"a|b", "c", base.typ, base.ref, base.version},
		"actor a, cause b|c": {"a", "b|c", base.typ, base.ref, base.version},
		"cause c|t, type u":  {base.actor, "c|t", "u", base.ref, base.version},
		"cause c, type t|u":  {base.actor, "c", "t|u", base.ref, base.version},
	}
	seen := map[string]string{id(base): "base"}
	valid := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for name, o := range others {
		got := id(o)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s and %s got the same id %s", name, prev, got)
		}
		seen[got] = name
		if !valid.MatchString(got) {
			t.Errorf("%s: id %q is not 32 lowercase hex digits", name, got)
		}
	}
	// A derived id is a valid message id: the log decodes an event carrying it.
	ev := &events.Event{ID: id(base), Type: base.typ, Object: base.ref, Actor: base.actor, Schema: events.SchemaVersion}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := events.Decode(data, 1, base.ref.Subject()); err != nil || got.ID != ev.ID {
		t.Errorf("Decode of an event with a derived id: %v, %v", got, err)
	}
	if fresh := events.NewID(); valid.MatchString(fresh) {
		t.Errorf("a fresh id %q has the shape of a derived one", fresh)
	}
}
