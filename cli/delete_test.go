package cli

import (
	"strings"
	"testing"
)

// deploymentYAML is a Deployment named name, without a namespace.
func deploymentYAML(name string) string {
	return strings.ReplaceAll(webYAML, "web", name)
}

// configMapYAML is a ConfigMap named name with the labels given as YAML (or none).
func configMapYAML(name, labels string) string {
	y := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
	if labels != "" {
		y += "  labels:\n    " + labels + "\n"
	}
	return y + "data:\n  k: v\n"
}

func TestDeleteAllDeletesEveryObjectOfTheTypeInScope(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "namespace", "other")
	for _, name := range []string{"b", "a"} {
		h.ok("apply", "-f", h.file(name+".yaml", deploymentYAML(name)))
	}
	h.ok("apply", "-n", "other", "-f", h.file("c.yaml", deploymentYAML("c")))
	h.ok("apply", "-f", h.file("keep.yaml", configMapYAML("keep", "")))

	if r := h.ok("delete", "deploy", "--all"); r.out != "deployment.apps \"a\" deleted\ndeployment.apps \"b\" deleted\n" {
		t.Errorf("delete deploy --all printed %q, want a line per deployment of default, in name order", r.out)
	}
	if rows := lines(h.ok("get", "deploy", "-A", "--no-headers").out); len(rows) != 1 || rows[0][1] != "c" {
		t.Errorf("after delete deploy --all in default: %v, want only other/c", rows)
	}
	if rows := lines(h.ok("get", "cm", "--no-headers").out); len(rows) != 1 || rows[0][0] != "keep" {
		t.Errorf("delete deploy --all touched config maps: %v", rows)
	}
	if r := h.ok("delete", "deploy", "--all"); r.out != "No resources found\n" {
		t.Errorf("delete deploy --all with none left printed %q, want No resources found", r.out)
	}
	if r := h.ok("delete", "deployments", "--all", "-n", "other"); r.out != "deployment.apps \"c\" deleted\n" {
		t.Errorf("delete deployments --all -n other printed %q", r.out)
	}

	h.ok("apply", "-f", h.file("a.yaml", deploymentYAML("a")))
	h.ok("apply", "-n", "other", "-f", h.file("d.yaml", deploymentYAML("d")))
	if r := h.ok("delete", "deploy", "--all", "-A"); r.out != "deployment.apps \"a\" deleted\ndeployment.apps \"d\" deleted\n" {
		t.Errorf("delete deploy --all -A printed %q, want a and d", r.out)
	}
	if r := h.run("get", "deploy", "-A"); r.failed() || r.out != "" {
		t.Errorf("deployments survived delete --all -A: %q %q", r.out, r.errLine)
	}

	h.ok("apply", "-f", h.file("web.yaml", configMapYAML("web", "app: web")))
	h.ok("apply", "-n", "other", "-f", h.file("web.yaml", configMapYAML("web", "app: web")))
	if r := h.ok("delete", "cm", "-l", "app=web", "-A"); r.out != "configmap \"web\" deleted\nconfigmap \"web\" deleted\n" {
		t.Errorf("delete cm -l app=web -A printed %q, want both web config maps", r.out)
	}
}

func TestDeleteAllRefusesNamesFilesAndSelectors(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("a.yaml", deploymentYAML("a")))
	before := h.lastSeq()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"delete", "deploy", "a", "--all"}, "cannot be given with names"},
		{[]string{"delete", "deploy/a", "--all"}, "cannot be given with names"},
		{[]string{"delete", "-f", h.file("a.yaml", deploymentYAML("a")), "--all"}, "not -f"},
		{[]string{"delete", "deploy", "--all", "-l", "app=a"}, "cannot be used together"},
		{[]string{"delete", "deploy", "a", "-A"}, "applies to --all and -l"},
	} {
		if r := h.fails(tc.args...); !strings.Contains(r.errLine, tc.want) {
			t.Errorf("wake %s: %q, want it to say %q", strings.Join(tc.args, " "), r.errLine, tc.want)
		}
	}
	if after := h.lastSeq(); after != before {
		t.Errorf("refused deletes appended %d events", after-before)
	}
}
