package object_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// timeline keeps one object as the log would: every Change that Apply, Replace or a
// direct writer produces becomes an event folded into the state.
type timeline struct {
	t    *testing.T
	kind string
	st   *object.Stored
	seq  uint64
}

func newTimeline(t *testing.T, kind string) *timeline { return &timeline{t: t, kind: kind, seq: 100} }

// doc decodes a one-document manifest into the default namespace (as the CLI does).
func doc(t *testing.T, manifest string) *object.Document {
	t.Helper()
	docs, err := object.Decode("web.yaml", []byte(manifest))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(docs) != 1 {
		t.Fatalf("%d documents, want 1", len(docs))
	}
	d := &docs[0]
	if d.Kind.Namespaced && d.Object.GetNamespace() == "" {
		d.Object.SetNamespace("default")
	}
	return d
}

// record folds ch as the next event (created when nothing exists yet).
func (tl *timeline) record(ch *object.Change) {
	tl.t.Helper()
	verb := object.Updated
	if tl.st == nil {
		verb = object.Created
	}
	var obj map[string]any
	if err := json.Unmarshal(ch.Object, &obj); err != nil {
		tl.t.Fatal(err)
	}
	k, _ := object.ByKind(tl.kind)
	o, err := object.DecodeObject(k, ch.Object)
	if err != nil {
		tl.t.Fatal(err)
	}
	oe := objectEvent{verb: verb, payload: string(mustJSON(tl.t, ch)), obj: o}
	tl.seq++
	next, err := object.Fold(tl.st, oe.event(tl.t, tl.kind, tl.seq))
	if err != nil {
		tl.t.Fatalf("fold %s: %v", verb, err)
	}
	tl.st = next
}

// apply applies manifest and records the change, if any.
func (tl *timeline) apply(manifest string) (string, error) {
	tl.t.Helper()
	outcome, ch, err := object.Apply(doc(tl.t, manifest), tl.st, "uid-1")
	if err != nil {
		return "", err
	}
	if (ch == nil) != (outcome == object.OutcomeUnchanged) {
		tl.t.Fatalf("Apply = %q with change %v: a change must come with created/configured only", outcome, ch)
	}
	if ch != nil {
		tl.record(ch)
	}
	return outcome, nil
}

func (tl *timeline) mustApply(manifest, want string) {
	tl.t.Helper()
	got, err := tl.apply(manifest)
	if err != nil {
		tl.t.Fatalf("apply: %v", err)
	}
	if got != want {
		tl.t.Fatalf("apply = %q, want %q", got, want)
	}
}

// update records a direct update (no last-applied configuration), as scale or a
// controller writes.
func (tl *timeline) update(fn func(object.Object)) {
	tl.t.Helper()
	obj := tl.st.Object.DeepCopyObject().(object.Object)
	fn(obj)
	tl.record(&object.Change{Object: mustJSON(tl.t, obj)})
}

func (tl *timeline) deployment() *appsv1.Deployment { return tl.st.Object.(*appsv1.Deployment) }

func TestApplyCreate(t *testing.T) {
	d := doc(t, webYAML)
	outcome, ch, err := object.Apply(d, nil, "uid-1")
	if err != nil {
		t.Fatal(err)
	}
	if outcome != object.OutcomeCreated || ch == nil {
		t.Fatalf("Apply = %q, %v; want created with a change", outcome, ch)
	}
	var obj appsv1.Deployment
	if err := json.Unmarshal(ch.Object, &obj); err != nil {
		t.Fatal(err)
	}
	if obj.UID != "uid-1" || obj.Name != "web" || obj.Namespace != "default" {
		t.Errorf("created object = uid %q %s/%s", obj.UID, obj.Namespace, obj.Name)
	}
	if obj.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("the created object lacks the defaults: strategy %q", obj.Spec.Strategy.Type)
	}
	var applied map[string]any
	if err := json.Unmarshal(ch.Applied, &applied); err != nil {
		t.Fatalf("Applied = %s: %v", ch.Applied, err)
	}
	md, _ := applied["metadata"].(map[string]any)
	if md["namespace"] != "default" || md["name"] != "web" {
		t.Errorf("Applied metadata = %v, want name and the final namespace", md)
	}
	spec, _ := applied["spec"].(map[string]any)
	if _, ok := spec["strategy"]; ok {
		t.Errorf("Applied holds a default the person did not declare: %s", ch.Applied)
	}
	if spec["replicas"] != float64(3) {
		t.Errorf("Applied spec.replicas = %v, want 3", spec["replicas"])
	}
}

func TestApplySameManifestIsUnchanged(t *testing.T) {
	tl := newTimeline(t, "Deployment")
	tl.mustApply(webYAML, object.OutcomeCreated)
	tl.mustApply(webYAML, object.OutcomeUnchanged)
	// Status is the system's: it never makes a manifest differ.
	status := objectEvent{verb: object.Status, obj: tl.st.Object, status: appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 3}}
	tl.seq++
	st, err := object.Fold(tl.st, status.event(t, "Deployment", tl.seq))
	if err != nil {
		t.Fatal(err)
	}
	tl.st = st
	tl.mustApply(webYAML, object.OutcomeUnchanged)
}

const webNoReplicas = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: fe}
spec:
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

func TestApplyThreeWay(t *testing.T) {
	t.Run("scale survives re-applying a manifest without replicas", func(t *testing.T) {
		tl := newTimeline(t, "Deployment")
		tl.mustApply(webNoReplicas, object.OutcomeCreated)
		if r := *tl.deployment().Spec.Replicas; r != 1 {
			t.Fatalf("replicas = %d, want the default 1", r)
		}
		tl.update(func(o object.Object) { o.(*appsv1.Deployment).Spec.Replicas = ptr[int32](5) })
		tl.mustApply(webNoReplicas, object.OutcomeUnchanged)
		if r := *tl.deployment().Spec.Replicas; r != 5 {
			t.Fatalf("replicas = %d after re-apply, want 5", r)
		}
		tl.mustApply(strings.Replace(webNoReplicas, "nginx:1.25", "nginx:1.26", 1), object.OutcomeConfigured)
		d := tl.deployment()
		if *d.Spec.Replicas != 5 || d.Spec.Template.Spec.Containers[0].Image != "nginx:1.26" {
			t.Fatalf("after an image change: replicas %d image %s, want 5 and nginx:1.26", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
		}
	})
	t.Run("a field the manifest stops declaring is removed", func(t *testing.T) {
		tl := newTimeline(t, "Deployment")
		tl.mustApply(webNoReplicas, object.OutcomeCreated)
		tl.mustApply(strings.Replace(webNoReplicas, "{app: web, tier: fe}", "{app: web}", 1), object.OutcomeConfigured)
		if l := tl.deployment().Labels; len(l) != 1 || l["app"] != "web" {
			t.Fatalf("labels = %v, want only app=web", l)
		}
	})
	t.Run("replicas the manifest stops declaring return to the default", func(t *testing.T) {
		tl := newTimeline(t, "Deployment")
		tl.mustApply(webYAML, object.OutcomeCreated)
		tl.mustApply(strings.Replace(webYAML, "  replicas: 3\n", "", 1), object.OutcomeConfigured)
		if r := *tl.deployment().Spec.Replicas; r != 1 {
			t.Fatalf("replicas = %d, want the default 1", r)
		}
	})
	t.Run("a field set by someone else survives", func(t *testing.T) {
		tl := newTimeline(t, "Deployment")
		tl.mustApply(webYAML, object.OutcomeCreated)
		tl.update(func(o object.Object) { o.SetAnnotations(map[string]string{"team": "payments"}) })
		tl.mustApply(webYAML, object.OutcomeUnchanged)
		tl.mustApply(strings.Replace(webYAML, "nginx:1.25", "nginx:1.26", 1), object.OutcomeConfigured)
		d := tl.deployment()
		if d.Annotations["team"] != "payments" {
			t.Fatalf("annotations = %v, want team=payments kept", d.Annotations)
		}
		if d.Spec.Template.Spec.Containers[0].Image != "nginx:1.26" {
			t.Fatalf("image = %s", d.Spec.Template.Spec.Containers[0].Image)
		}
	})
	t.Run("generation counts applied spec changes only", func(t *testing.T) {
		tl := newTimeline(t, "Deployment")
		tl.mustApply(webNoReplicas, object.OutcomeCreated)
		tl.mustApply(strings.Replace(webNoReplicas, "tier: fe", "tier: be", 1), object.OutcomeConfigured)
		if g := tl.deployment().Generation; g != 1 {
			t.Errorf("generation after a label change = %d, want 1", g)
		}
		tl.mustApply(strings.Replace(webNoReplicas, "nginx:1.25", "nginx:2", 1), object.OutcomeConfigured)
		if g := tl.deployment().Generation; g != 2 {
			t.Errorf("generation after an image change = %d, want 2", g)
		}
	})
}

// getYAML renders the object as `wake get -o yaml` does (JSON, generic, YAML).
func getYAML(t *testing.T, obj object.Object) string {
	t.Helper()
	var generic any
	if err := json.Unmarshal(mustJSON(t, obj), &generic); err != nil {
		t.Fatal(err)
	}
	data, err := yaml.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestApplyGetOutputIsUnchanged(t *testing.T) {
	manifests := map[string]struct{ kind, manifest string }{
		"deployment": {"Deployment", webNoReplicas},
		"service":    {"Service", serviceYAML},
		"pod":        {"Pod", podYAML},
		"configmap":  {"ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n"},
		"namespace":  {"Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"},
	}
	for name, m := range manifests {
		t.Run(name, func(t *testing.T) {
			tl := newTimeline(t, m.kind)
			tl.mustApply(m.manifest, object.OutcomeCreated)
			if m.kind == "Deployment" {
				tl.update(func(o object.Object) { o.(*appsv1.Deployment).Spec.Replicas = ptr[int32](5) })
			}
			out := getYAML(t, tl.st.Object)
			for _, f := range []string{"uid:", "resourceVersion:", "creationTimestamp:"} {
				if !strings.Contains(out, f) {
					t.Fatalf("get -o yaml lacks %s:\n%s", f, out)
				}
			}
			tl.mustApply(out, object.OutcomeUnchanged)
		})
	}
}

func TestApplyRefusesSelectorChange(t *testing.T) {
	tl := newTimeline(t, "Deployment")
	tl.mustApply(webYAML, object.OutcomeCreated)
	changed := strings.ReplaceAll(webYAML, "{app: web}", "{app: web2}")
	next := doc(t, changed).Object
	if len(object.ValidateUpdate(tl.st.Object, next)) == 0 {
		t.Fatal("ValidateUpdate accepts a changed Deployment selector")
	}
	_, err := tl.apply(changed)
	var de *object.DocumentError
	if !errors.As(err, &de) || !errors.Is(err, object.ErrInvalid) {
		t.Fatalf("apply with a changed selector = %v, want a DocumentError", err)
	}
	if !strings.Contains(err.Error(), "spec.selector") || !strings.Contains(err.Error(), "web.yaml") {
		t.Errorf("error %q does not name spec.selector and the file", err)
	}
	if tl.deployment().Spec.Selector.MatchLabels["app"] != "web" {
		t.Errorf("the selector changed")
	}
}

func TestReplaceKeepsSystemFields(t *testing.T) {
	t.Run("pod", func(t *testing.T) {
		tl := newTimeline(t, "Pod")
		tl.mustApply(podYAML, object.OutcomeCreated)
		tl.update(func(o object.Object) { o.SetAnnotations(map[string]string{"old": "yes"}) })
		st := objectEvent{verb: object.Status, obj: tl.st.Object, status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.5"}}
		tl.seq++
		next, err := object.Fold(tl.st, st.event(t, "Pod", tl.seq))
		if err != nil {
			t.Fatal(err)
		}
		tl.st = next
		created := tl.st.Object.GetCreationTimestamp()

		replacement := strings.Replace(strings.Replace(podYAML, "  nodeName: node-1\n", "", 1), "busybox:1.36", "busybox:1.37", 1)
		ch, err := object.Replace(doc(t, replacement), tl.st)
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Applied) != 0 {
			t.Errorf("Replace recorded a last-applied configuration: %s", ch.Applied)
		}
		tl.record(ch)
		p := tl.st.Object.(*corev1.Pod)
		if p.UID != "uid-1" {
			t.Errorf("uid = %q, want kept", p.UID)
		}
		if p.Spec.NodeName != "node-1" {
			t.Errorf("nodeName = %q, want node-1 kept", p.Spec.NodeName)
		}
		if !p.CreationTimestamp.Equal(&created) {
			t.Errorf("creationTimestamp = %v, want %v", p.CreationTimestamp, created)
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP != "10.0.0.5" {
			t.Errorf("status = %+v, want kept", p.Status)
		}
		if _, ok := p.Annotations["old"]; ok {
			t.Errorf("annotations = %v: replace keeps nothing the manifest does not declare", p.Annotations)
		}
		if p.Spec.Containers[0].Image != "busybox:1.37" {
			t.Errorf("image = %s", p.Spec.Containers[0].Image)
		}
	})
	t.Run("service", func(t *testing.T) {
		tl := newTimeline(t, "Service")
		tl.mustApply(serviceYAML, object.OutcomeCreated)
		ch, err := object.Replace(doc(t, strings.Replace(serviceYAML, "  clusterIP: 10.96.0.10\n", "", 1)), tl.st)
		if err != nil {
			t.Fatal(err)
		}
		tl.record(ch)
		if ip := tl.st.Object.(*corev1.Service).Spec.ClusterIP; ip != "10.96.0.10" {
			t.Errorf("clusterIP = %q, want kept", ip)
		}
	})
}
