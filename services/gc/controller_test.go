package gc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
)

var (
	discard    = slog.New(slog.NewTextHandler(io.Discard, nil))
	cmKind, _  = object.ByKind("ConfigMap")
	podKind, _ = object.ByKind("Pod")
)

func startControlPlane(t *testing.T) (*controlplane.Server, *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: t.TempDir(), Port: -1, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Actor = "user:alice"
	return srv, c
}

// startGC runs a garbage collector over a fresh projection until the test ends.
func startGC(t *testing.T, log *events.Log) {
	t.Helper()
	ctl := gc.New(log, discard)
	r, err := projections.Open(filepath.Join(t.TempDir(), "gc"), gc.Projection(), log, projections.WithLogger(discard), projections.WithAfterCommit(ctl.Notify))
	if err != nil {
		t.Fatal(err)
	}
	ctl.Attach(r)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	go func() {
		defer wg.Done()
		ctl.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = r.Close()
	})
}

func write(t *testing.T, c *client.Client, manifest string) {
	t.Helper()
	docs, err := object.Decode("test.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetNamespace(docs, "", false); err != nil {
		t.Fatal(err)
	}
	for i := range docs {
		if _, err := c.Write(context.Background(), &docs[i], client.ModeApply); err != nil {
			t.Fatal(err)
		}
	}
}

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

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(25 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 20s", what)
		}
	}
}

// lastEvent is the newest event on the object's subject.
func lastEvent(t *testing.T, log *events.Log, kind, name string) *events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cur, err := log.Read(ctx, events.ReadOptions{Subjects: []string{events.Ref{Kind: kind, Namespace: "default", Name: name}.Subject()}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	var last *events.Event
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			return last
		}
		if err != nil {
			t.Fatal(err)
		}
		if last, err = rec.Decode(); err != nil {
			t.Fatal(err)
		}
	}
}

func ownedBy(owners ...string) string {
	out := "ownerReferences:"
	for _, o := range owners {
		out += fmt.Sprintf("\n  - {apiVersion: v1, kind: ConfigMap, name: x, uid: %q}", o)
	}
	return out
}

func TestDependentsFollowTheirOwners(t *testing.T) {
	srv, c := startControlPlane(t)
	ctx := context.Background()
	startGC(t, srv.Log())
	write(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owner}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bystander}\n")
	owner, other := uidOf(t, c, "owner"), uidOf(t, c, "other")
	write(t, c, fmt.Sprintf(`apiVersion: v1
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
`, indent(ownedBy(owner)), indent(ownedBy(owner, other)), indent(ownedBy(owner))))

	if err := c.Delete(ctx, cmKind, "default", "owner"); err != nil {
		t.Fatal(err)
	}
	deletion := lastEvent(t, srv.Log(), "ConfigMap", "owner")
	eventually(t, "child deleted", func() bool { return !exists(t, c, cmKind, "child") })
	// The worker was never scheduled (no nodes), so the dispatcher finishes its
	// graceful deletion at once: it is deleting, or already gone.
	eventually(t, "worker deleting", func() bool {
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
	eventually(t, "shared deleted with its last owner", func() bool { return !exists(t, c, cmKind, "shared") })

	// An object naming an owner that does not exist is garbage from the start.
	write(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: orphan\n  "+indent(ownedBy("0d7b3d0e-0000-4000-8000-00000000dead"))+"\n")
	eventually(t, "orphan deleted", func() bool { return !exists(t, c, cmKind, "orphan") })
	if ev := lastEvent(t, srv.Log(), "ConfigMap", "orphan"); ev.Actor != gc.Actor || ev.Reason != "garbage collection: its owner does not exist" {
		t.Errorf("orphan: %s by %s (%q)", ev.Type, ev.Actor, ev.Reason)
	}
	if !exists(t, c, cmKind, "bystander") {
		t.Error("bystander collected")
	}
}

// indent puts the lines after the first of an ownerReferences block under metadata.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// eventOfType returns the first event of type typ on a default-namespace object.
func eventOfType(t *testing.T, log *events.Log, kind, name, typ string) *events.Event {
	t.Helper()
	cur, err := log.Read(context.Background(), events.ReadOptions{Subjects: []string{events.Ref{Kind: kind, Namespace: "default", Name: name}.Subject()}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	for {
		rec, err := cur.Next(context.Background())
		if err != nil {
			t.Fatalf("no %s event for %s %s", typ, kind, name)
		}
		ev, err := rec.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == typ {
			return ev
		}
	}
}
