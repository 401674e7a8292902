package gc_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/reconcile/reconciletest"
)

// A whole-collector script: events in, the events it appends out, without NATS
// (reconciletest).
func TestScriptCollectsDependentsOnceEveryOwnerIsGone(t *testing.T) {
	l := reconciletest.NewLog(t)
	l.Attach(gc.Decision())
	cm := func(name string) events.Ref { return events.Ref{Kind: "ConfigMap", Namespace: "default", Name: name} }
	l.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owner}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n")
	uid := func(name string) string { return string(l.Get(cm(name)).Object.GetUID()) }
	owner, other := uid("owner"), uid("other")
	l.Apply(dependents(owner, other))
	l.Apply(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: grandchild\n  %s\n", indent(ownedBy(uid("child")))))
	if got := l.Settle(); len(got) != 0 {
		t.Fatalf("with every owner live the collector appended %q", l.Summary(got))
	}

	// The owner's dependents go, and theirs after them; shared keeps its other owner.
	deleted := l.Delete(cm("owner"))
	got := l.Settle()
	want := []string{
		"configmap.deleted ConfigMap/default/child @3",
		"pod.deleting Pod/default/worker @5",
		"configmap.deleted ConfigMap/default/grandchild @6",
	}
	if lines := l.Summary(got); !reflect.DeepEqual(lines, want) {
		t.Errorf("appended:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
	for _, ev := range got {
		if ev.Actor != gc.Actor || ev.Correlation != deleted.Correlation {
			t.Errorf("%s %s by %s, correlation %s; want the collector, %s", ev.Type, ev.Object, ev.Actor, ev.Correlation, deleted.Correlation)
		}
	}
	if l.Get(cm("shared")) == nil {
		t.Error("shared was deleted while another owner lives")
	}

	l.Delete(cm("other"))
	if lines := l.Summary(l.Settle()); !reflect.DeepEqual(lines, []string{"configmap.deleted ConfigMap/default/shared @4"}) {
		t.Errorf("after its last owner went: %q", lines)
	}
}
