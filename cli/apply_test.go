package cli

import (
	"strconv"
	"strings"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/services/client"
)

// TestDoneWhen walks the acceptance scenario: apply, read back, audit,
// re-apply the read-back form, delete, and refuse a misspelled manifest.
func TestDoneWhen(t *testing.T) {
	h := newHarness(t)
	web := h.file("web.yaml", webYAML)

	if r := h.ok("apply", "-f", web); r.out != "deployment.apps/web created\n" {
		t.Fatalf("apply printed %q", r.out)
	}

	rows := lines(h.ok("get", "deploy").out)
	if len(rows) != 2 || strings.Join(rows[0], " ") != "NAME READY UP-TO-DATE AVAILABLE AGE" {
		t.Fatalf("get deploy printed %q", rows)
	}
	if got := strings.Join(rows[1][:4], " "); got != "web 0/3 0 0" || len(rows[1]) != 5 {
		t.Errorf("get deploy row = %q, want web 0/3 0 0 <age>", rows[1])
	}

	obj := h.getObject("deploy", "web")
	version := strconv.FormatUint(h.lastSeq(), 10)
	for path, want := range map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata.name": "web", "metadata.namespace": "default",
		"metadata.resourceVersion": version, "metadata.generation": float64(1), "spec.replicas": float64(3),
		"metadata.labels.app": "web",
	} {
		if got := field(obj, path); got != want {
			t.Errorf("get -o yaml: %s = %v, want %v", path, got, want)
		}
	}
	for _, path := range []string{"metadata.uid", "metadata.creationTimestamp"} {
		if s, _ := field(obj, path).(string); s == "" {
			t.Errorf("get -o yaml lacks %s", path)
		}
	}
	if field(obj, "spec.strategy.rollingUpdate.maxSurge") != "25%" {
		t.Errorf("get -o yaml lacks the defaults: strategy %v", field(obj, "spec.strategy"))
	}

	readBack := h.file("readback.yaml", h.ok("get", "deploy", "web", "-o", "yaml").out)
	before := h.lastSeq()
	if r := h.ok("apply", "-f", readBack); r.out != "deployment.apps/web unchanged\n" {
		t.Errorf("re-applying get -o yaml printed %q", r.out)
	}
	if after := h.lastSeq(); after != before {
		t.Errorf("an unchanged apply appended %d events", after-before)
	}

	ev := h.ok("events")
	actor := client.DefaultActor()
	if !strings.Contains(ev.out, "SEQ") || !hasRow(ev.out, actor, "deployment.created", "default", "deployment.apps/web") {
		t.Errorf("events does not show who applied web:\n%s", ev.out)
	}

	if r := h.ok("delete", "deploy", "web"); r.out != "deployment.apps \"web\" deleted\n" {
		t.Errorf("delete printed %q", r.out)
	}
	if r := h.fails("get", "deploy", "web"); r.errLine != `Error from server (NotFound): deployments.apps "web" not found` {
		t.Errorf("get after delete: %q", r.errLine)
	}
	if ev := h.ok("events", "--for", "deploy/web"); !hasRow(ev.out, actor, "deployment.deleted", "default", "deployment.apps/web") {
		t.Errorf("events does not show the deletion:\n%s", ev.out)
	}

	misspelled := h.file("typo.yaml", strings.Replace(webYAML, "replicas: 3", "replica: 3", 1))
	before = h.lastSeq()
	r := h.fails("apply", "-f", misspelled)
	for _, want := range []string{"spec.replica", "unknown field", `did you mean "replicas"`, misspelled, "document 1", "nothing was applied"} {
		if !strings.Contains(r.errLine, want) {
			t.Errorf("misspelled field error does not say %q:\n%s", want, r.errLine)
		}
	}
	if !strings.HasPrefix(r.errLine, "error: ") {
		t.Errorf("error line = %q, want kubectl's error: prefix", r.errLine)
	}
	if after := h.lastSeq(); after != before {
		t.Errorf("a refused manifest appended %d events", after-before)
	}
}

// hasRow reports whether some line of out holds every field, in order.
func hasRow(out string, fields ...string) bool {
	for _, row := range lines(out) {
		i := 0
		for _, f := range row {
			if i < len(fields) && f == fields[i] {
				i++
			}
		}
		if i == len(fields) {
			return true
		}
	}
	return false
}

func TestApplyIsAllOrNothing(t *testing.T) {
	h := newHarness(t)
	before := h.lastSeq()
	multi := h.file("multi.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: good}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bad}
dta: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: good-too}
`)
	r := h.fails("apply", "-f", multi)
	for _, want := range []string{multi + ": document 2", "dta", `did you mean "data"`, "nothing was applied"} {
		if !strings.Contains(r.errLine, want) {
			t.Errorf("error does not say %q:\n%s", want, r.errLine)
		}
	}
	if r.out != "" {
		t.Errorf("stdout = %q, want nothing applied", r.out)
	}
	if after := h.lastSeq(); after != before {
		t.Errorf("a file with one bad document appended %d events", after-before)
	}
	h.fails("get", "cm", "good")

	// A directory with one bad file applies nothing either.
	dir := t.TempDir()
	h.dir = dir
	h.file("a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	h.file("b.yaml", "apiVersion: v1\nkind: Widget\nmetadata: {name: b}\n")
	r = h.fails("apply", "-f", dir)
	if !strings.Contains(r.errLine, "Widget") || !strings.Contains(r.errLine, "b.yaml") {
		t.Errorf("error does not name the unknown kind and its file:\n%s", r.errLine)
	}
	if after := h.lastSeq(); after != before {
		t.Errorf("a directory with one bad file appended %d events", after-before)
	}
}

func TestApplyList(t *testing.T) {
	h := newHarness(t)
	list := h.file("list.yaml", `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
- apiVersion: v1
  kind: Service
  metadata: {name: b}
  spec:
    ports: [{port: 80}]
`)
	if r := h.ok("apply", "-f", list); r.out != "configmap/a created\nservice/b created\n" {
		t.Errorf("apply of a List printed %q", r.out)
	}
	if r := h.ok("get", "cm/a", "svc/b", "-o", "name"); r.out != "configmap/a\nservice/b\n" {
		t.Errorf("get -o name = %q", r.out)
	}
	if r := execute(strings.NewReader(webYAML), "apply", "-f", "-", "--server", h.srv.ClientURL(), "--credentials", h.srv.AdminCredentials()); r.failed() || r.out != "deployment.apps/web created\n" {
		t.Errorf("apply -f - = %q, %q", r.out, r.errLine)
	}
}

func TestCreateAndReplace(t *testing.T) {
	h := newHarness(t)
	cm := h.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v1}\n")
	if r := h.ok("create", "-f", cm); r.out != "configmap/c created\n" {
		t.Errorf("create printed %q", r.out)
	}
	before := h.lastSeq()
	if r := h.fails("create", "-f", cm); !strings.Contains(r.errLine, `configmaps "c" already exists`) {
		t.Errorf("create of an existing object: %q", r.errLine)
	}
	missing := h.file("missing.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: missing}\n")
	if r := h.fails("replace", "-f", missing); !strings.Contains(r.errLine, `configmaps "missing" not found`) {
		t.Errorf("replace of a missing object: %q", r.errLine)
	}
	if after := h.lastSeq(); after != before {
		t.Errorf("refused create/replace appended %d events", after-before)
	}
	replaced := h.file("cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v2}\n")
	if r := h.ok("replace", "-f", replaced); r.out != "configmap/c replaced\n" {
		t.Errorf("replace printed %q", r.out)
	}
	if got := field(h.getObject("cm", "c"), "data.k"); got != "v2" {
		t.Errorf("data.k after replace = %v", got)
	}
}

func TestNamespaces(t *testing.T) {
	h := newHarness(t)
	if r := h.ok("create", "namespace", "shop"); r.out != "namespace/shop created\n" {
		t.Errorf("create namespace printed %q", r.out)
	}
	if r := h.fails("create", "namespace", "shop"); !strings.Contains(r.errLine, "already exists") {
		t.Errorf("create namespace twice: %q", r.errLine)
	}
	if rows := lines(h.ok("get", "ns").out); len(rows) != 3 || rows[1][0] != "default" || rows[2][0] != "shop" || rows[2][1] != "Active" {
		t.Errorf("get ns = %q", rows)
	}

	before := h.lastSeq()
	elsewhere := h.file("nope.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: nope}\n")
	r := h.fails("apply", "-f", elsewhere)
	if !strings.Contains(r.errLine, `namespaces "nope" not found`) || !strings.Contains(r.errLine, "wake create namespace nope") {
		t.Errorf("apply into a missing namespace: %q", r.errLine)
	}
	if strings.Count(r.errLine, "\n") != 0 {
		t.Errorf("error is not one line: %q", r.errLine)
	}
	other := h.file("other.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n")
	if r := h.fails("apply", "-n", "shop", "-f", other); !strings.Contains(r.errLine, `does not match the namespace "shop"`) {
		t.Errorf("apply -n shop of a manifest in default: %q", r.errLine)
	}
	if after := h.lastSeq(); after != before {
		t.Errorf("refused applies appended %d events", after-before)
	}

	plain := h.file("plain.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	h.ok("apply", "-n", "shop", "-f", plain)
	if rows := lines(h.ok("get", "cm", "-n", "shop").out); len(rows) != 2 || rows[1][0] != "a" {
		t.Errorf("get cm -n shop = %q", rows)
	}
	if r := h.run("get", "cm"); r.failed() || r.out != "" || !strings.Contains(r.errOut, "No resources found in default namespace.") {
		t.Errorf("get cm in default = %q %q %q", r.out, r.errOut, r.errLine)
	}
	if rows := lines(h.ok("get", "cm", "-A").out); len(rows) != 2 || rows[0][0] != "NAMESPACE" || rows[1][0] != "shop" {
		t.Errorf("get cm -A = %q", rows)
	}
}

func TestScaleThenReapplyKeepsReplicas(t *testing.T) {
	h := newHarness(t)
	noReplicas := h.file("web.yaml", strings.Replace(webYAML, "  replicas: 3\n", "", 1))
	h.ok("apply", "-f", noReplicas)
	if r := h.ok("scale", "deploy/web", "--replicas=5"); r.out != "deployment.apps/web scaled\n" {
		t.Errorf("scale printed %q", r.out)
	}
	if r := h.ok("apply", "-f", noReplicas); r.out != "deployment.apps/web unchanged\n" {
		t.Errorf("re-apply after scale printed %q", r.out)
	}
	if got := field(h.getObject("deploy", "web"), "spec.replicas"); got != float64(5) {
		t.Errorf("replicas = %v, want 5", got)
	}
	if r := h.fails("scale", "cm/x", "--replicas=2"); r.errLine == "" {
		t.Error("scaling a missing configmap succeeded")
	}
	evs := h.subjectEvents(events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"})
	if len(evs) != 2 || evs[1].Type != "deployment.updated" {
		t.Errorf("events of web = %d, want created and the scale's update", len(evs))
	}
}
