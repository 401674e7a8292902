package namespace_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/dispatch"
	"github.com/wake-run/wake/services/endpoints"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/namespace"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
)

var discard = controlplanetest.Discard

const shopObjects = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {currency: EUR}
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: shop}
stringData: {token: s3cr3t}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: survivor, namespace: default}
`

func TestDeletingANamespaceDeletesItsObjects(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	ctx := context.Background()
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
	controlplanetest.Apply(t, c, shopObjects)
	members := []struct{ kind, name string }{{"ConfigMap", "settings"}, {"Secret", "token"}, {"Deployment", "web"}, {"Service", "web"}}
	nsKind, _ := object.ByKind("Namespace")
	if err := c.Delete(ctx, nsKind, "", "shop"); err != nil {
		t.Fatal(err)
	}

	gone := func(kind, ns, name string) bool {
		k, _ := object.ByKind(kind)
		_, err := c.Query.Get(ctx, k, ns, name)
		if err != nil && !errors.Is(err, query.ErrNotFound) {
			t.Fatal(err)
		}
		return err != nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for !gone("Namespace", "", "shop") {
		if time.Now().After(deadline) {
			t.Fatal("namespace shop still exists 20s after its deletion")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, m := range members {
		if !gone(m.kind, "shop", m.name) {
			t.Errorf("%s shop/%s survived its namespace", m.kind, m.name)
		}
	}
	if gone("ConfigMap", "default", "survivor") {
		t.Error("deleting shop deleted an object of namespace default")
	}

	nsEvents := eventstest.ReadAll(t, srv.Log(), events.Ref{Kind: "Namespace", Name: "shop"}.Subject())
	var types []string
	for _, ev := range nsEvents {
		types = append(types, ev.Type)
	}
	if strings.Join(types, " ") != "namespace.created namespace.deleting namespace.deleted" {
		t.Fatalf("namespace events = %v", types)
	}
	deleting := nsEvents[1]
	if deleting.Actor != "user:alice" {
		t.Errorf("deleting actor = %q", deleting.Actor)
	}
	memberEvents := eventstest.ReadAll(t, srv.Log(), "ev.*.shop.*")
	deleted := map[string]*events.Event{}
	created := map[string]*events.Event{} // the newest creation of each object
	for _, ev := range memberEvents {
		if strings.HasSuffix(ev.Type, ".created") {
			created[ev.Object.Kind+"/"+ev.Object.Name] = ev
		}
	}
	for _, ev := range memberEvents {
		if strings.HasSuffix(ev.Type, ".deleted") {
			deleted[ev.Object.Kind+"/"+ev.Object.Name] = ev
			if !(deleted[ev.Object.Kind+"/"+ev.Object.Name].Seq > deleting.Seq) {
				t.Errorf("%s deleted before the namespace deletion", ev.Object)
			}
		}
	}
	// Pods are the ReplicaSet controller's: one deciding from a moment before the
	// deletion may still create a pod while the namespace goes, which the garbage
	// collector then removes (see the issue note). They must all be gone, but
	// their order and cause are not the namespace controller's. The same holds for
	// a ReplicaSet the Deployment controller re-creates after the deletion began:
	// controllers' creations are not yet guarded by their owner's version.
	for key, ev := range deleted {
		late := created[key] != nil && created[key].Seq > deleting.Seq && created[key].Actor != "user:alice"
		if ev.Object.Kind == "Pod" || (late && ev.Actor == gc.Actor) {
			delete(deleted, key)
		}
	}
	for _, kind := range []string{"Pod", "ReplicaSet"} {
		k, _ := object.ByKind(kind)
		eventstest.Eventually(t, "no "+kind+" left in shop", func() bool {
			objs, _, err := c.Query.List(context.Background(), k, "shop", "")
			return err == nil && len(objs) == 0
		})
	}
	for _, ev := range append([]*events.Event{nsEvents[2]}, mapValues(deleted)...) {
		// Its owner's deletion, the end of a graceful one, or a Service's
		// endpoints going with it: the same chain.
		if ev.Actor == gc.Actor || ev.Actor == dispatch.Actor || ev.Actor == endpoints.Actor {
			if ev.Correlation != deleting.Correlation {
				t.Errorf("%s %s: correlation %q, want the namespace deletion's %q", ev.Type, ev.Object, ev.Correlation, deleting.Correlation)
			}
			continue
		}
		if ev.Actor != namespace.Actor {
			t.Errorf("%s %s: actor %q, want %s", ev.Type, ev.Object, ev.Actor, namespace.Actor)
		}
		if ev.Cause != deleting.ID || ev.Correlation != deleting.Correlation {
			t.Errorf("%s %s: cause %q correlation %q, want the deletion %q", ev.Type, ev.Object, ev.Cause, ev.Correlation, deleting.ID)
		}
	}
	for _, m := range members {
		if deleted[m.kind+"/"+m.name] == nil {
			t.Errorf("no deleted event for %s shop/%s", m.kind, m.name)
		}
	}
	// The namespace goes last: after every member.
	for _, ev := range deleted {
		if ev.Seq > nsEvents[2].Seq {
			t.Errorf("%s deleted after its namespace", ev.Object)
		}
	}

	_, err := controlplanetest.Write(t, c, client.ModeApply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: shop}\n")
	if !errors.Is(err, client.ErrNamespace) || !strings.Contains(err.Error(), "wake create namespace shop") {
		t.Errorf("apply into a deleted namespace = %v, want ErrNamespace with a hint", err)
	}
	// Re-created, the namespace is usable again.
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
	if _, err := controlplanetest.Write(t, c, client.ModeApply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: shop}\n"); err != nil {
		t.Errorf("apply into the re-created namespace: %v", err)
	}
}

func mapValues(m map[string]*events.Event) []*events.Event {
	var out []*events.Event
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestDefaultNamespaceCannotBeDeleted(t *testing.T) {
	_, c := controlplanetest.Start(t, controlplane.Config{})
	k, _ := object.ByKind("Namespace")
	if err := c.Delete(context.Background(), k, "", "default"); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("delete namespace default = %v, want ErrForbidden", err)
	}
}

// startQueryOnly runs a real JetStream server and the query service over a real
// Pebble projection, without the namespace controller, so a namespace stays
// Terminating for as long as the test needs.
func startQueryOnly(t *testing.T) (*eventstest.Server, *client.Client) {
	t.Helper()
	s := eventstest.Start(t)
	r := controlplanetest.RunProjection(t, s.Log, query.Projection())
	svc := query.NewService(r, s.Log, discard)
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	c, err := client.New(s.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestApplyIntoATerminatingOrMissingNamespaceIsRefused(t *testing.T) {
	s, c := startQueryOnly(t)
	ctx := context.Background()
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: shop}\n"
	if _, err := controlplanetest.Write(t, c, client.ModeApply, cm); err != nil {
		t.Fatalf("apply into an active namespace: %v", err)
	}
	k, _ := object.ByKind("Namespace")
	if err := c.Delete(ctx, k, "", "shop"); err != nil {
		t.Fatal(err)
	}
	st, err := c.Query.Get(ctx, k, "", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if ns := st.Object.(*corev1.Namespace); ns.Status.Phase != corev1.NamespaceTerminating || ns.DeletionTimestamp == nil {
		t.Errorf("namespace after delete: phase %q deletionTimestamp %v, want Terminating", ns.Status.Phase, ns.DeletionTimestamp)
	}
	// Deleting again is a no-op while it terminates.
	before, _ := s.Log.LastSeq(ctx)
	if err := c.Delete(ctx, k, "", "shop"); err != nil {
		t.Fatal(err)
	}
	_, err = controlplanetest.Write(t, c, client.ModeApply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: shop}\n")
	if !errors.Is(err, client.ErrNamespace) || !strings.Contains(err.Error(), "being terminated") {
		t.Errorf("apply into a terminating namespace = %v, want ErrNamespace saying it is being terminated", err)
	}
	_, err = controlplanetest.Write(t, c, client.ModeApply, strings.Replace(cm, "shop", "nowhere", 1))
	if !errors.Is(err, client.ErrNamespace) || !strings.Contains(err.Error(), "`wake create namespace nowhere`") {
		t.Errorf("apply into a missing namespace = %v, want ErrNamespace with a hint", err)
	}
	if after, _ := s.Log.LastSeq(ctx); after != before {
		t.Errorf("refused writes appended %d events", after-before)
	}
}
