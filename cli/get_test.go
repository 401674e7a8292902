package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const fixtures = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {app: web}}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers: [{name: c, image: busybox:1.36}]
`

func TestKindNames(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	h.ok("apply", "-f", h.file("fixtures.yaml", fixtures))
	cases := []struct {
		args []string
		want string // a name in the first column of the output; "" for an empty list
	}{
		{[]string{"po"}, "solo"}, {[]string{"pod"}, "solo"}, {[]string{"pods"}, "solo"},
		{[]string{"deploy"}, "web"}, {[]string{"deployment"}, "web"}, {[]string{"deployments"}, "web"},
		{[]string{"deployments.apps"}, "web"}, {[]string{"deployment.apps"}, "web"}, {[]string{"Deployment"}, "web"},
		{[]string{"deploy/web"}, "web"}, {[]string{"deploy", "web"}, "web"},
		{[]string{"svc"}, "web"}, {[]string{"services"}, "web"},
		{[]string{"ns"}, "default"}, {[]string{"namespaces"}, "default"},
		{[]string{"cm"}, "settings"}, {[]string{"configmaps"}, "settings"},
		{[]string{"rs"}, ""}, {[]string{"replicasets.apps"}, ""},
		{[]string{"no"}, ""}, {[]string{"nodes"}, ""},
		{[]string{"ep"}, ""}, {[]string{"endpoints"}, ""},
		{[]string{"ing"}, ""}, {[]string{"ingresses.networking.k8s.io"}, ""},
		{[]string{"secrets"}, ""},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := h.ok(append([]string{"get"}, tc.args...)...)
			rows := lines(r.out)
			if tc.want == "" {
				if len(rows) != 0 || !strings.HasPrefix(r.errOut, "No resources found") {
					t.Errorf("get %v = %q / %q, want No resources found", tc.args, r.out, r.errOut)
				}
				return
			}
			if len(rows) < 2 || rows[0][0] != "NAME" || rows[1][0] != tc.want {
				t.Errorf("get %v = %q, want a table listing %s", tc.args, r.out, tc.want)
			}
		})
	}
	if r := h.fails("get", "widgets"); !strings.Contains(r.errLine, `doesn't have a resource type "widgets"`) || !strings.Contains(r.errLine, "Deployment (apps/v1)") {
		t.Errorf("get widgets: %q", r.errLine)
	}
	if r := h.ok("get", "svc,cm", "-l", "app=web", "-o", "name"); r.out != "service/web\nconfigmap/settings\n" {
		t.Errorf("get svc,cm -l app=web -o name = %q", r.out)
	}
}

func TestGetMissing(t *testing.T) {
	h := newHarness(t)
	if r := h.fails("get", "deploy", "x"); r.errLine != `Error from server (NotFound): deployments.apps "x" not found` {
		t.Errorf("get deploy x: %q", r.errLine)
	}
	if r := h.fails("get", "po", "x"); r.errLine != `Error from server (NotFound): pods "x" not found` {
		t.Errorf("get po x: %q", r.errLine)
	}
	if r := h.ok("get", "deploy", "x", "--ignore-not-found"); r.out != "" {
		t.Errorf("get --ignore-not-found printed %q", r.out)
	}
	r := h.fails("get", "cm", "a", "b")
	if r.errLine != "Error from server (NotFound): configmaps \"a\" not found\nError from server (NotFound): configmaps \"b\" not found" {
		t.Errorf("get cm a b: %q", r.errLine)
	}
}

func TestGetOutputs(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	var obj map[string]any
	if err := json.Unmarshal([]byte(h.ok("get", "deploy", "web", "-o", "json").out), &obj); err != nil {
		t.Fatalf("get -o json: %v", err)
	}
	if field(obj, "metadata.name") != "web" || field(obj, "kind") != "Deployment" {
		t.Errorf("get -o json = %v", obj)
	}
	var list map[string]any
	if err := json.Unmarshal([]byte(h.ok("get", "deploy", "-o", "json").out), &list); err != nil || list["kind"] != "List" {
		t.Errorf("get deploy -o json = %v (%v), want a List", list, err)
	}
	wide := lines(h.ok("get", "deploy", "-o", "wide").out)
	if len(wide) != 2 || strings.Join(wide[0], " ") != "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR" || wide[1][6] != "nginx:1.25" || wide[1][7] != "app=web" {
		t.Errorf("get -o wide = %q", wide)
	}
	if r := h.fails("get", "deploy", "-o", "toml"); !strings.Contains(r.errLine, "wide, yaml, json, name") {
		t.Errorf("get -o toml: %q", r.errLine)
	}
}

func TestDelete(t *testing.T) {
	h := newHarness(t)
	fx := h.file("fixtures.yaml", fixtures)
	h.ok("apply", "-f", fx)
	h.ok("apply", "-f", h.file("more.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: one, labels: {batch: x}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: two, labels: {batch: x}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: three, labels: {batch: other}}
`))

	if r := h.ok("delete", "cm", "three"); r.out != "configmap \"three\" deleted\n" {
		t.Errorf("delete by name printed %q", r.out)
	}
	if r := h.ok("delete", "-l", "batch=x", "cm"); r.out != "configmap \"one\" deleted\nconfigmap \"two\" deleted\n" {
		t.Errorf("delete -l printed %q", r.out)
	}
	if r := h.ok("delete", "-f", fx); r.out != "configmap \"settings\" deleted\nservice \"web\" deleted\npod \"solo\" deleted\n" {
		t.Errorf("delete -f printed %q", r.out)
	}
	// A pod's deletion is graceful: it shows Terminating until the dispatcher
	// (no node ran it) finishes it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := h.ok("get", "cm,svc,po")
		if r.out == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects survived their deletion: %q", r.out)
		}
	}
	if r := h.fails("delete", "cm/three"); r.errLine != `Error from server (NotFound): configmaps "three" not found` {
		t.Errorf("delete of a deleted object: %q", r.errLine)
	}
	before := h.lastSeq()
	if r := h.ok("delete", "cm", "three", "--ignore-not-found"); r.out != "" {
		t.Errorf("delete --ignore-not-found printed %q", r.out)
	}
	if r := h.ok("delete", "cm", "-l", "batch=none"); r.out != "No resources found\n" {
		t.Errorf("delete -l matching nothing: %q", r.out)
	}
	if r := h.fails("delete", "cm"); !strings.Contains(r.errLine, "no name was specified") {
		t.Errorf("delete cm without a name: %q", r.errLine)
	}
	if after := h.lastSeq(); after != before {
		t.Errorf("deletes of nothing appended %d events", after-before)
	}
}

func TestUnreachableServer(t *testing.T) {
	start := time.Now()
	r := execute(nil, "get", "deploy", "--server", "nats://127.0.0.1:1")
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("an unreachable server took %s to report", elapsed)
	}
	if !r.failed() || !strings.Contains(r.errLine, "127.0.0.1:1") || strings.Contains(r.errLine, "\n") {
		t.Errorf("error = %q, want one line naming the address", r.errLine)
	}
}
