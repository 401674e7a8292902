package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configDir holds the files the create tests read.
func configDir(t *testing.T) string {
	dir := t.TempDir()
	for name, content := range map[string]string{"d/app.properties": "a=1\n", "d/other.txt": "line\n", "d/sub/skipped": "x",
		"app.env": "\xEF\xBB\xBFx=1\n# comment\n\n   y=two words \nFROM_ENV\nUNSET_ZZ\n", "bin.dat": "\xff\xfe"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCreateConfigMapAndSecretDryRun compares with what kubectl 1.32 prints for
// the same command lines (recorded from /usr/bin/kubectl).
func TestCreateConfigMapAndSecretDryRun(t *testing.T) {
	dir := configDir(t)
	t.Chdir(dir)
	t.Setenv("FROM_ENV", "from the environment")
	cases := []struct {
		args string
		want string
	}{
		{"configmap redis-config --from-file=d/app.properties -o yaml", `apiVersion: v1
data:
  app.properties: |
    a=1
kind: ConfigMap
metadata:
  creationTimestamp: null
  name: redis-config
`},
		{"configmap game --from-file=d --from-literal=x=y -n shop -o json", `{
    "kind": "ConfigMap",
    "apiVersion": "v1",
    "metadata": {
        "name": "game",
        "namespace": "shop",
        "creationTimestamp": null
    },
    "data": {
        "app.properties": "a=1\n",
        "other.txt": "line\n",
        "x": "y"
    }
}
`},
		{"configmap c --from-file=k1=d/other.txt --from-file=bin.dat -o yaml", `apiVersion: v1
binaryData:
  bin.dat: //4=
data:
  k1: |
    line
kind: ConfigMap
metadata:
  creationTimestamp: null
  name: c
`},
		{"configmap c --from-env-file=app.env -o yaml", `apiVersion: v1
data:
  FROM_ENV: from the environment
  UNSET_ZZ: ""
  x: "1"
  "y": 'two words '
kind: ConfigMap
metadata:
  creationTimestamp: null
  name: c
`},
		{"secret generic db --from-literal=username=admin --from-file=d -o yaml", `apiVersion: v1
data:
  app.properties: YT0xCg==
  other.txt: bGluZQo=
  username: YWRtaW4=
kind: Secret
metadata:
  creationTimestamp: null
  name: db
`},
		{"secret docker-registry r --docker-server=s --docker-username=u --docker-password=p --docker-email=e -o yaml", `apiVersion: v1
data:
  .dockerconfigjson: eyJhdXRocyI6eyJzIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImVtYWlsIjoiZSIsImF1dGgiOiJkVHB3In19fQ==
kind: Secret
metadata:
  creationTimestamp: null
  name: r
type: kubernetes.io/dockerconfigjson
`},
		{"configmap c --from-literal=a=1", "configmap/c created (dry run)\n"},
		{"secret generic s --from-literal=a=1 -o name", "secret/s\n"},
	}
	for _, tc := range cases {
		t.Run(tc.args, func(t *testing.T) {
			r := execute(nil, append([]string{"create"}, append(strings.Fields(tc.args), "--dry-run=client")...)...)
			if r.failed() {
				t.Fatal(r.errLine)
			}
			if r.out != tc.want {
				t.Errorf("printed\n%s\nkubectl prints\n%s", r.out, tc.want)
			}
		})
	}
	for args, want := range map[string]string{
		"configmap c --from-literal=a=1 --from-literal=a=2": `cannot add key "a", another key by that name already exists in Data for ConfigMap "c"`,
		"configmap c d":                                     "exactly one NAME is required, got 2",
		"configmap c --from-literal=bad/key=1":              `"bad/key" is not a valid key name for a ConfigMap`,
		"secret tls t --cert=d/other.txt --key=d/other.txt": "tls: failed to find any PEM data in certificate input",
		"configmap c --from-literal=a=1 -o wide":            `unable to match a printer suitable for the output format "wide"`,
	} {
		r := execute(nil, append([]string{"create"}, append(strings.Fields(args), "--dry-run=client")...)...)
		if !strings.Contains(r.errLine, want) {
			t.Errorf("create %s: error %q, want one saying %q", args, r.errLine, want)
		}
	}
}

// TestCreateConfigMapAndSecret creates both on a server: get shows the
// ConfigMap's data and the Secret's base64 data, as kubectl does.
func TestCreateConfigMapAndSecret(t *testing.T) {
	h := newHarness(t)
	dir := configDir(t)
	if r := h.ok("create", "configmap", "redis-config", "--from-file="+filepath.Join(dir, "d/app.properties")); r.out != "configmap/redis-config created\n" {
		t.Errorf("create configmap printed %q", r.out)
	}
	if r := h.ok("create", "secret", "generic", "db", "--from-literal=username=admin", "--from-literal=password=s3cr3t"); r.out != "secret/db created\n" {
		t.Errorf("create secret printed %q", r.out)
	}
	h.fails("create", "configmap", "redis-config", "--from-literal=a=1")
	cm := h.getObject("configmap", "redis-config")
	if data, _ := cm["data"].(map[string]any); data["app.properties"] != "a=1\n" {
		t.Errorf("configmap data = %v", cm["data"])
	}
	out := h.ok("get", "secret", "db", "-o", "yaml").out
	for _, want := range []string{"  password: czNjcjN0\n", "  username: YWRtaW4=\n", "kind: Secret\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("get secret -o yaml lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "wake.io/sealed") || strings.Contains(out, "s3cr3t") {
		t.Errorf("get secret -o yaml shows the sealed marker or clear text:\n%s", out)
	}
}
