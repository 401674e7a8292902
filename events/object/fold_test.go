package object_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
)

// t0 has sub-second precision: creationTimestamp keeps whole seconds only.
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)

const webYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
`

const podYAML = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  nodeName: node-1
  containers:
  - name: c
    image: busybox:1.36
`

const serviceYAML = `apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports:
  - port: 80
`

// decodeOne decodes a manifest holding one document, as a writer does before it
// appends: strictly, with defaults and validation.
func decodeOne(t *testing.T, manifest string) object.Object {
	t.Helper()
	docs, err := object.Decode("test.yaml", []byte(manifest))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(docs) != 1 {
		t.Fatalf("decode: %d documents, want 1", len(docs))
	}
	return docs[0].Object
}

// edit decodes manifest and lets fn change the typed object.
func edit[T object.Object](t *testing.T, manifest string, fn func(T)) object.Object {
	t.Helper()
	obj := decodeOne(t, manifest)
	fn(obj.(T))
	return obj
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// objectEvent is an event about obj (the ref comes from obj unless ref is given).
type objectEvent struct {
	verb    string
	obj     object.Object // payload object for created/updated
	applied string        // Change.Applied
	status  any           // payload of status events
	ref     *events.Ref   // overrides the ref derived from obj
	typ     string        // overrides the event type
	payload string        // overrides the payload
	at      time.Duration // after t0
}

func (oe objectEvent) event(t *testing.T, kind string, seq uint64) *events.Event {
	t.Helper()
	k, ok := object.ByKind(kind)
	if !ok {
		k = &object.Kind{Kind: kind}
	}
	ev := &events.Event{ID: "ev-" + oe.verb, Type: object.EventType(k, oe.verb), Actor: "user:test",
		Time: t0.Add(oe.at), Schema: events.SchemaVersion, Seq: seq}
	if oe.obj != nil {
		ev.Object = events.Ref{Kind: kind, Namespace: oe.obj.GetNamespace(), Name: oe.obj.GetName()}
	}
	if oe.ref != nil {
		ev.Object = *oe.ref
	}
	if oe.typ != "" {
		ev.Type = oe.typ
	}
	switch {
	case oe.payload != "":
		ev.Payload = json.RawMessage(oe.payload)
	case oe.verb == object.Created || oe.verb == object.Updated:
		ch := object.Change{Object: mustJSON(t, oe.obj)}
		if oe.applied != "" {
			ch.Applied = json.RawMessage(oe.applied)
		}
		ev.Payload = mustJSON(t, ch)
	case oe.verb == object.Status || oe.verb == object.FailedMount:
		ev.Payload = mustJSON(t, object.StatusChange{Status: mustJSON(t, oe.status)})
	}
	return ev
}

// foldAll folds evs from nothing; the i-th event has sequence 10+i.
func foldAll(t *testing.T, kind string, evs []objectEvent) (*object.Stored, error) {
	t.Helper()
	var st *object.Stored
	for i, oe := range evs {
		next, err := object.Fold(st, oe.event(t, kind, uint64(10+i)))
		if err != nil {
			return st, err
		}
		st = next
	}
	return st, nil
}

func withUID(obj object.Object, uid string) object.Object {
	obj.SetUID(types.UID(uid))
	return obj
}

func TestFoldCreated(t *testing.T) {
	dep := func(t *testing.T) object.Object {
		return withUID(edit(t, webYAML, func(d *appsv1.Deployment) {
			d.Status.Replicas = 7 // a writer's status never survives creation
			d.Generation = 42
			d.ResourceVersion = "999"
		}), "uid-web")
	}
	cases := []struct {
		name           string
		kind           string
		obj            func(t *testing.T) object.Object
		wantGeneration int64
		check          func(t *testing.T, obj object.Object)
	}{
		{name: "deployment", kind: "Deployment", obj: dep, wantGeneration: 1, check: func(t *testing.T, obj object.Object) {
			if s := obj.(*appsv1.Deployment).Status; s.Replicas != 0 {
				t.Errorf("status = %+v, want empty", s)
			}
		}},
		{name: "namespace starts Active", kind: "Namespace", wantGeneration: 0,
			obj: func(t *testing.T) object.Object {
				return withUID(decodeOne(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"), "uid-ns")
			},
			check: func(t *testing.T, obj object.Object) {
				if p := obj.(*corev1.Namespace).Status.Phase; p != corev1.NamespaceActive {
					t.Errorf("phase = %q, want Active", p)
				}
			}},
		{name: "configmap has no generation", kind: "ConfigMap", wantGeneration: 0,
			obj: func(t *testing.T) object.Object {
				return withUID(decodeOne(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndata: {k: v}\n"), "uid-cm")
			},
			check: func(t *testing.T, obj object.Object) {
				if d := obj.(*corev1.ConfigMap).Data; d["k"] != "v" {
					t.Errorf("data = %v", d)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.obj(t)
			st, err := foldAll(t, tc.kind, []objectEvent{{verb: object.Created, obj: obj, applied: `{"declared":true}`}})
			if err != nil {
				t.Fatal(err)
			}
			got := st.Object
			if got.GetUID() != obj.GetUID() {
				t.Errorf("uid = %q, want %q from the payload", got.GetUID(), obj.GetUID())
			}
			if want := t0.Truncate(time.Second); !got.GetCreationTimestamp().Time.Equal(want) {
				t.Errorf("creationTimestamp = %v, want the event time %v", got.GetCreationTimestamp(), want)
			}
			if got.GetGeneration() != tc.wantGeneration {
				t.Errorf("generation = %d, want %d", got.GetGeneration(), tc.wantGeneration)
			}
			if got.GetResourceVersion() != "10" {
				t.Errorf("resourceVersion = %q, want the event's sequence 10", got.GetResourceVersion())
			}
			if got.GetDeletionTimestamp() != nil {
				t.Errorf("deletionTimestamp = %v, want nil", got.GetDeletionTimestamp())
			}
			if string(st.LastApplied) != `{"declared":true}` {
				t.Errorf("LastApplied = %s", st.LastApplied)
			}
			if gvk := got.GetObjectKind().GroupVersionKind(); gvk.Kind != tc.kind {
				t.Errorf("kind = %v", gvk)
			}
			tc.check(t, got)
		})
	}
}

func TestFoldErrors(t *testing.T) {
	cm := func(t *testing.T) object.Object {
		return withUID(decodeOne(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n"), "uid-cm")
	}
	cases := []struct {
		name string
		kind string
		evs  func(t *testing.T) []objectEvent
		want string // part of the error
	}{
		{"created on an existing object", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t)}, {verb: object.Created, obj: cm(t)}}
		}, "already exists"},
		{"updated on a missing object", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Updated, obj: cm(t)}}
		}, "does not exist"},
		{"status of a missing object", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Status, obj: cm(t), status: map[string]any{}}}
		}, "does not exist"},
		{"deleting a missing object", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Deleting, obj: cm(t)}}
		}, "does not exist"},
		{"unknown kind", "Widget", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t)}}
		}, `unknown kind "Widget"`},
		{"type of another kind", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t), typ: "pod.created"}}
		}, "does not belong to kind ConfigMap"},
		{"unknown verb", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t)}, {verb: object.Updated, obj: cm(t), typ: "configmap.exploded"}}
		}, "unknown event type"},
		{"payload naming another object", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t), ref: &events.Ref{Kind: "ConfigMap", Namespace: "default", Name: "other"}}}
		}, "payload names default/c"},
		{"payload in another namespace", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t), ref: &events.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "c"}}}
		}, "payload names default/c"},
		{"created without uid", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: withUID(cm(t), "")}}
		}, "without a uid"},
		{"malformed change payload", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t), payload: `{"object": 7}`}}
		}, "configmap.created"},
		{"change payload without object", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t), payload: `{}`}}
		}, "want {object, applied}"},
		{"malformed status payload", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t)}, {verb: object.Status, obj: cm(t), payload: `[]`}}
		}, "want {status}"},
		{"status of a kind without status", "ConfigMap", func(t *testing.T) []objectEvent {
			return []objectEvent{{verb: object.Created, obj: cm(t)}, {verb: object.Status, obj: cm(t), status: map[string]any{"x": 1}}}
		}, "has no status"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs := tc.evs(t)
			before, err := foldAll(t, tc.kind, evs[:len(evs)-1])
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
			var beforeJSON []byte
			if before != nil {
				beforeJSON = mustJSON(t, before.Object)
			}
			last := evs[len(evs)-1].event(t, tc.kind, 99)
			next, err := object.Fold(before, last)
			if !errors.Is(err, object.ErrFold) {
				t.Fatalf("Fold = %v, %v; want an error wrapping ErrFold", next, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if next != nil {
				t.Errorf("a refused event returned a state: %v", next.Object)
			}
			if before != nil && string(mustJSON(t, before.Object)) != string(beforeJSON) {
				t.Errorf("a refused event changed the previous state")
			}
		})
	}
}

func TestFoldUpdatedKeepsSystemFields(t *testing.T) {
	t.Run("deployment uid, creationTimestamp, status", func(t *testing.T) {
		created := withUID(decodeOne(t, webYAML), "uid-web")
		update := withUID(edit(t, webYAML, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
			d.Status.Replicas = 99 // ignored: status events own status
		}), "uid-forged")
		st, err := foldAll(t, "Deployment", []objectEvent{
			{verb: object.Created, obj: created},
			{verb: object.Status, obj: created, status: appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2}, at: time.Minute},
			{verb: object.Updated, obj: update, at: time.Hour},
		})
		if err != nil {
			t.Fatal(err)
		}
		d := st.Object.(*appsv1.Deployment)
		if d.UID != "uid-web" {
			t.Errorf("uid = %q, want the original uid-web", d.UID)
		}
		if want := t0.Truncate(time.Second); !d.CreationTimestamp.Time.Equal(want) {
			t.Errorf("creationTimestamp = %v, want %v", d.CreationTimestamp, want)
		}
		if d.Status.Replicas != 3 || d.Status.ReadyReplicas != 2 {
			t.Errorf("status = %+v, want the one of the status event", d.Status)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.26" {
			t.Errorf("image = %q, want the update's", img)
		}
		if d.ResourceVersion != "12" {
			t.Errorf("resourceVersion = %q, want 12", d.ResourceVersion)
		}
	})
	t.Run("pod nodeName", func(t *testing.T) {
		created := withUID(decodeOne(t, podYAML), "uid-p")
		update := edit(t, podYAML, func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Spec.Containers[0].Image = "busybox:1.37"
		})
		st, err := foldAll(t, "Pod", []objectEvent{{verb: object.Created, obj: created}, {verb: object.Updated, obj: update}})
		if err != nil {
			t.Fatal(err)
		}
		p := st.Object.(*corev1.Pod)
		if p.Spec.NodeName != "node-1" {
			t.Errorf("nodeName = %q, want node-1 kept", p.Spec.NodeName)
		}
		if p.Spec.Containers[0].Image != "busybox:1.37" {
			t.Errorf("image = %q", p.Spec.Containers[0].Image)
		}
	})
	t.Run("service clusterIP", func(t *testing.T) {
		created := withUID(decodeOne(t, serviceYAML), "uid-svc")
		update := edit(t, serviceYAML, func(s *corev1.Service) {
			s.Spec.ClusterIP = ""
			s.Spec.Selector = map[string]string{"app": "api"}
		})
		st, err := foldAll(t, "Service", []objectEvent{{verb: object.Created, obj: created}, {verb: object.Updated, obj: update}})
		if err != nil {
			t.Fatal(err)
		}
		s := st.Object.(*corev1.Service)
		if s.Spec.ClusterIP != "10.96.0.10" {
			t.Errorf("clusterIP = %q, want 10.96.0.10 kept", s.Spec.ClusterIP)
		}
		if s.Spec.Selector["app"] != "api" {
			t.Errorf("selector = %v, want the update's", s.Spec.Selector)
		}
	})
}

func TestFoldGeneration(t *testing.T) {
	cases := []struct {
		name   string
		change func(d *appsv1.Deployment)
		want   int64
	}{
		{"same object", func(*appsv1.Deployment) {}, 1},
		{"labels only", func(d *appsv1.Deployment) { d.Labels["tier"] = "fe" }, 1},
		{"annotations only", func(d *appsv1.Deployment) { d.Annotations = map[string]string{"note": "x"} }, 1},
		{"replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr[int32](5) }, 2},
		{"image", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" }, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := foldAll(t, "Deployment", []objectEvent{
				{verb: object.Created, obj: withUID(decodeOne(t, webYAML), "u")},
				{verb: object.Updated, obj: edit(t, webYAML, tc.change)},
			})
			if err != nil {
				t.Fatal(err)
			}
			if g := st.Object.GetGeneration(); g != tc.want {
				t.Errorf("generation = %d, want %d", g, tc.want)
			}
		})
	}
	t.Run("counts every spec change", func(t *testing.T) {
		evs := []objectEvent{{verb: object.Created, obj: withUID(decodeOne(t, webYAML), "u")}}
		for i := int32(1); i <= 4; i++ {
			evs = append(evs, objectEvent{verb: object.Updated, obj: edit(t, webYAML, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(i) })})
		}
		st, err := foldAll(t, "Deployment", evs)
		if err != nil {
			t.Fatal(err)
		}
		if g := st.Object.GetGeneration(); g != 5 {
			t.Errorf("generation after 4 spec changes = %d, want 5", g)
		}
	})
}

func TestFoldStatusReplacesOnlyStatus(t *testing.T) {
	created := withUID(decodeOne(t, webYAML), "u")
	st, err := foldAll(t, "Deployment", []objectEvent{
		{verb: object.Created, obj: created, applied: `{"a":1}`},
		{verb: object.Status, obj: created, status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3}},
		{verb: object.Status, obj: created, status: appsv1.DeploymentStatus{ReadyReplicas: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := st.Object.(*appsv1.Deployment)
	if !equality.Semantic.DeepEqual(d.Status, appsv1.DeploymentStatus{ReadyReplicas: 1}) {
		t.Errorf("status = %+v, want exactly the last status event's", d.Status)
	}
	if d.Generation != 1 || *d.Spec.Replicas != 3 || d.Labels["app"] != "web" || d.UID != "u" {
		t.Errorf("status event changed metadata or spec: %+v", d.ObjectMeta)
	}
	if d.ResourceVersion != "12" {
		t.Errorf("resourceVersion = %q, want 12", d.ResourceVersion)
	}
	if string(st.LastApplied) != `{"a":1}` {
		t.Errorf("LastApplied = %s, want kept", st.LastApplied)
	}
}

func TestFoldDeletion(t *testing.T) {
	ns := func(t *testing.T) object.Object {
		return withUID(decodeOne(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"), "uid-ns")
	}
	t.Run("deleting sets deletionTimestamp once; namespace Terminating", func(t *testing.T) {
		st, err := foldAll(t, "Namespace", []objectEvent{
			{verb: object.Created, obj: ns(t)},
			{verb: object.Deleting, obj: ns(t), payload: `{"uid":"uid-ns","gracePeriodSeconds":30}`, at: time.Minute},
			{verb: object.Deleting, obj: ns(t), at: time.Hour},
		})
		if err != nil {
			t.Fatal(err)
		}
		n := st.Object.(*corev1.Namespace)
		if n.DeletionTimestamp == nil || !n.DeletionTimestamp.Time.Equal(t0.Add(time.Minute).Truncate(time.Second)) {
			t.Errorf("deletionTimestamp = %v, want the first deleting event's time", n.DeletionTimestamp)
		}
		if n.DeletionGracePeriodSeconds == nil || *n.DeletionGracePeriodSeconds != 30 {
			t.Errorf("deletionGracePeriodSeconds = %v, want 30", n.DeletionGracePeriodSeconds)
		}
		if n.Status.Phase != corev1.NamespaceTerminating {
			t.Errorf("phase = %q, want Terminating", n.Status.Phase)
		}
		if n.ResourceVersion != "12" {
			t.Errorf("resourceVersion = %q, want 12", n.ResourceVersion)
		}
	})
	t.Run("update keeps deletionTimestamp", func(t *testing.T) {
		cm := withUID(decodeOne(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n"), "u")
		st, err := foldAll(t, "ConfigMap", []objectEvent{
			{verb: object.Created, obj: cm},
			{verb: object.Deleting, obj: cm},
			{verb: object.Updated, obj: cm},
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Object.GetDeletionTimestamp() == nil {
			t.Error("an update cleared deletionTimestamp")
		}
	})
	t.Run("deleted returns nil", func(t *testing.T) {
		st, err := foldAll(t, "Namespace", []objectEvent{
			{verb: object.Created, obj: ns(t)},
			{verb: object.Deleting, obj: ns(t)},
			{verb: object.Deleted, obj: ns(t), payload: `{"uid":"uid-ns"}`},
		})
		if err != nil || st != nil {
			t.Fatalf("Fold(deleted) = %v, %v; want nil, nil", st, err)
		}
	})
	t.Run("recreate after deleted is a new object", func(t *testing.T) {
		st, err := foldAll(t, "Namespace", []objectEvent{
			{verb: object.Created, obj: ns(t)},
			{verb: object.Deleted, obj: ns(t)},
			{verb: object.Created, obj: withUID(ns(t), "uid-2"), at: time.Hour},
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Object.GetUID() != "uid-2" || !st.Object.GetCreationTimestamp().Time.Equal(t0.Add(time.Hour).Truncate(time.Second)) {
			t.Errorf("recreated object = uid %q created %v", st.Object.GetUID(), st.Object.GetCreationTimestamp())
		}
	})
}

func TestFoldLastApplied(t *testing.T) {
	created := withUID(decodeOne(t, webYAML), "u")
	cases := []struct {
		name    string
		applied string
		want    string
	}{
		{"absent keeps the previous", "", `{"v":1}`},
		{"present replaces", `{"v":2}`, `{"v":2}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := foldAll(t, "Deployment", []objectEvent{
				{verb: object.Created, obj: created, applied: `{"v":1}`},
				{verb: object.Updated, obj: edit(t, webYAML, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr[int32](5) }), applied: tc.applied},
			})
			if err != nil {
				t.Fatal(err)
			}
			if string(st.LastApplied) != tc.want {
				t.Errorf("LastApplied = %s, want %s", st.LastApplied, tc.want)
			}
		})
	}
}

func TestFoldIsPure(t *testing.T) {
	created := withUID(decodeOne(t, webYAML), "u")
	prev, err := foldAll(t, "Deployment", []objectEvent{{verb: object.Created, obj: created}})
	if err != nil {
		t.Fatal(err)
	}
	before := string(mustJSON(t, prev.Object))
	ev := objectEvent{verb: object.Updated, obj: edit(t, webYAML, func(d *appsv1.Deployment) { d.Spec.Replicas = ptr[int32](9) })}.event(t, "Deployment", 50)
	a, err := object.Fold(prev, ev)
	if err != nil {
		t.Fatal(err)
	}
	b, err := object.Fold(prev, ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(mustJSON(t, a.Object)) != string(mustJSON(t, b.Object)) {
		t.Error("the same state and event gave different states")
	}
	if after := string(mustJSON(t, prev.Object)); after != before {
		t.Errorf("Fold changed its input state:\nbefore %s\nafter  %s", before, after)
	}
	for _, verb := range []string{object.Status, object.Deleting} {
		oe := objectEvent{verb: verb, obj: created, status: appsv1.DeploymentStatus{Replicas: 1}}
		if _, err := object.Fold(prev, oe.event(t, "Deployment", 51)); err != nil {
			t.Fatal(err)
		}
		if after := string(mustJSON(t, prev.Object)); after != before {
			t.Errorf("Fold(%s) changed its input state", verb)
		}
	}
}

func ptr[T any](v T) *T { return &v }
