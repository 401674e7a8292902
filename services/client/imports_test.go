package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/wake-run/wake"

// goList runs `go list` with args and returns its output's lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestImportsPointDown holds the layering of the top level: the log and the
// projections import no service, node or command; no service imports the
// command tree; and whoever only talks to a cluster (this client, the
// dashboard, the node's wire API) does not link the node agent's runtime.
// Tests are end to end and may reach across (the dashboard's browser test runs
// `wake scale`); what a package links is what is held here.
func TestImportsPointDown(t *testing.T) {
	above := map[string][]string{
		"events":      {"services", "node", "cli"},
		"projections": {"services", "node", "cli"},
		"services":    {"cli"},
	}
	for layer, forbidden := range above {
		lines := goList(t, "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/"+layer+"/...")
		for _, line := range lines {
			f := strings.Fields(line)
			for _, imp := range f[1:] {
				for _, top := range forbidden {
					if imp == module+"/"+top || strings.HasPrefix(imp, module+"/"+top+"/") {
						t.Errorf("%s imports %s: a package under %s/ may not import %s/ (move what both need down, e.g. into services/client, events/object/printer or node/api)",
							f[0], imp, layer, top)
					}
				}
			}
		}
	}
	for _, pkg := range []string{"services/client", "services/dashboard", "node/api"} {
		for _, dep := range goList(t, "-deps", module+"/"+pkg) {
			if strings.HasPrefix(dep, "github.com/containerd/") || dep == module+"/node/agent" {
				t.Errorf("%s links %s: a client of the cluster must not link the node agent or containerd (use node/api for the node's wire types)", pkg, dep)
				break
			}
		}
	}
}
