package gc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/query"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

var (
	discard    = controlplanetest.Discard
	cmKind, _  = object.ByKind("ConfigMap")
	podKind, _ = object.ByKind("Pod")
)

func uidOf(t *testing.T, c *client.Client, name string) string {
	t.Helper()
	st, err := c.Query.Get(context.Background(), cmKind, "default", name)
	if err != nil {
		t.Fatal(err)
	}
	return string(st.Object.GetUID())
}

func exists(t *testing.T, c *client.Client, k *object.Kind, name string) bool {
	t.Helper()
	_, err := c.Query.Get(context.Background(), k, "default", name)
	if err != nil && !errors.Is(err, query.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func ownedBy(owners ...string) string {
	out := "ownerReferences:"
	for _, o := range owners {
		out += fmt.Sprintf("\n  - {apiVersion: v1, kind: ConfigMap, name: x, uid: %q}", o)
	}
	return out
}

// dependents are child and worker owned by owner, and shared owned by owner
// and other.
func dependents(owner, other string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: child
  %s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  %s
---
apiVersion: v1
kind: Pod
metadata:
  name: worker
  %s
spec:
  terminationGracePeriodSeconds: 3
  containers: [{name: w, image: busybox:1.36}]
`, indent(ownedBy(owner)), indent(ownedBy(owner, other)), indent(ownedBy(owner)))
}

func TestDependentsFollowTheirOwners(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	ctx := context.Background()
	log := srv.Log()
	controlplanetest.RunController(t, log, gc.Projection(), reconcile.NewOwnerLoop(log, discard, gc.Decision()))
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owner}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bystander}\n")
	owner, other := uidOf(t, c, "owner"), uidOf(t, c, "other")
	controlplanetest.Apply(t, c, dependents(owner, other))

	if err := c.Delete(ctx, cmKind, "default", "owner"); err != nil {
		t.Fatal(err)
	}
	deletion := lastEvent(t, srv.Log(), "ConfigMap", "owner")
	eventstest.Eventually(t, "child deleted", func() bool { return !exists(t, c, cmKind, "child") })
	// The worker was never scheduled (no nodes), so the dispatcher finishes its
	// graceful deletion at once: it is deleting, or already gone.
	eventstest.Eventually(t, "worker deleting", func() bool {
		st, err := c.Query.Get(ctx, podKind, "default", "worker")
		return (err == nil && st.Object.(*corev1.Pod).DeletionTimestamp != nil) || errors.Is(err, query.ErrNotFound)
	})
	child, worker := lastEvent(t, srv.Log(), "ConfigMap", "child"), eventOfType(t, srv.Log(), "Pod", "worker", "pod.deleting")
	for _, ev := range []*events.Event{child, worker} {
		if ev.Actor != gc.Actor || ev.Cause != deletion.ID || ev.Correlation != deletion.Correlation || ev.Reason == "" {
			t.Errorf("%s %s by %s caused by %s, want the collector reacting to %s", ev.Type, ev.Object, ev.Actor, ev.Cause, deletion.ID)
		}
	}
	var d object.Deletion
	if err := json.Unmarshal(worker.Payload, &d); err != nil || worker.Type != "pod.deleting" || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != 3 {
		t.Errorf("worker: %s %s, want pod.deleting with grace period 3", worker.Type, worker.Payload)
	}
	// shared still has a live owner; bystander has none.
	time.Sleep(500 * time.Millisecond)
	if !exists(t, c, cmKind, "shared") || !exists(t, c, cmKind, "bystander") {
		t.Fatal("an object with a live owner, or with no owner, was collected")
	}
	if err := c.Delete(ctx, cmKind, "default", "other"); err != nil {
		t.Fatal(err)
	}
	eventstest.Eventually(t, "shared deleted with its last owner", func() bool { return !exists(t, c, cmKind, "shared") })

	// An object naming an owner that does not exist is garbage from the start.
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: orphan\n  "+indent(ownedBy("0d7b3d0e-0000-4000-8000-00000000dead"))+"\n")
	eventstest.Eventually(t, "orphan deleted", func() bool { return !exists(t, c, cmKind, "orphan") })
	if ev := lastEvent(t, srv.Log(), "ConfigMap", "orphan"); ev.Actor != gc.Actor || ev.Reason != "garbage collection: its owner does not exist" {
		t.Errorf("orphan: %s by %s (%q)", ev.Type, ev.Actor, ev.Reason)
	}
	if !exists(t, c, cmKind, "bystander") {
		t.Error("bystander collected")
	}
}

// indent puts the lines after the first of an ownerReferences block under metadata.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// eventsOf is every event on a default-namespace object's subject.
func eventsOf(t *testing.T, log *events.Log, kind, name string) []*events.Event {
	t.Helper()
	return eventstest.ReadAll(t, log, events.Ref{Kind: kind, Namespace: "default", Name: name}.Subject())
}

// lastEvent is the newest event on a default-namespace object's subject.
func lastEvent(t *testing.T, log *events.Log, kind, name string) *events.Event {
	t.Helper()
	evs := eventsOf(t, log, kind, name)
	if len(evs) == 0 {
		t.Fatalf("no event for %s %s", kind, name)
	}
	return evs[len(evs)-1]
}

// eventOfType returns the first event of type typ on a default-namespace object.
func eventOfType(t *testing.T, log *events.Log, kind, name, typ string) *events.Event {
	t.Helper()
	for _, ev := range eventsOf(t, log, kind, name) {
		if ev.Type == typ {
			return ev
		}
	}
	t.Fatalf("no %s event for %s %s", typ, kind, name)
	return nil
}
