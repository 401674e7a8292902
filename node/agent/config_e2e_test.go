package agent_test

import (
	"bytes"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
)

// Values only a Secret holds: the test looks for them in the node's files.
const (
	secretUser     = "admin-u7x3q"
	secretPassword = "pw-9fK2mZq8"
)

const configObjects = `apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {mode: fast, greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {username: ` + secretUser + `, password: ` + secretPassword + `}
`

const configPod = `apiVersion: v1
kind: Pod
metadata: {name: reader, labels: {app: reader}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    env:
    - {name: MODE, valueFrom: {configMapKeyRef: {name: app-config, key: mode}}}
    - {name: SECRET_USERNAME, valueFrom: {secretKeyRef: {name: db, key: username}}}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    volumeMounts:
    - {name: secret-volume, mountPath: /etc/secret-volume}
    - {name: config, mountPath: /etc/config}
    - {name: config, mountPath: /etc/mode-at-start, subPath: mode}
    - {name: podinfo, mountPath: /etc/podinfo}
  volumes:
  - {name: secret-volume, secret: {secretName: db, defaultMode: 0400}}
  - {name: config, configMap: {name: app-config}}
  - name: podinfo
    downwardAPI:
      items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]
`

const missingKeyPod = `apiVersion: v1
kind: Pod
metadata: {name: missing-key}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    env: [{name: X, valueFrom: {configMapKeyRef: {name: app-config, key: nope}}}]
`

// TestConfigMapAndSecretInAPod runs a pod that reads a ConfigMap from env and
// a file, a Secret from env and a tmpfs file; an update of the ConfigMap
// reaches the file within seconds (not the subPath mount); the Secret never
// reaches the node's disk and its files go with the pod.
func TestConfigMapAndSecretInAPod(t *testing.T) {
	cl := startClusterWith(t, 0, "node-c", "10.66.12.0/24", "wke2ec")
	importDemo(t, cl)
	cl.apply(configObjects)
	cl.apply(configPod)
	eventually(t, "reader running", 60*time.Second, func() bool { return running(cl.pod("reader")) })
	pod := cl.pod("reader")

	sh := func(script string) string {
		t.Helper()
		out, errOut, err := cl.wake("", "exec", "reader", "--", "sh", "-c", script)
		if err != nil {
			t.Fatalf("exec %q: %v (%s)", script, err, errOut)
		}
		return out
	}
	if got := sh(`echo "$MODE $SECRET_USERNAME $POD_NAME"`); got != "fast "+secretUser+" reader\n" {
		t.Errorf("env = %q", got)
	}
	if got := sh("cat /etc/secret-volume/username; echo; cat /etc/secret-volume/password; echo; stat -L -c %a /etc/secret-volume/password"); got != secretUser+"\n"+secretPassword+"\n400\n" {
		t.Errorf("secret files = %q", got)
	}
	if got := sh("cat /etc/podinfo/labels"); got != `app="reader"` {
		t.Errorf("downward API labels = %q", got)
	}
	if got := sh("readlink /etc/config/mode; cat /etc/config/mode"); got != "..data/mode\nfast" {
		t.Errorf("config file = %q, want a link through ..data to fast", got)
	}

	secretDir := filepath.Join(cl.cfg.StateDir, "pods", string(pod.UID), "volumes", "secret-volume")
	var fsStat syscall.Statfs_t
	if err := syscall.Statfs(secretDir, &fsStat); err != nil || fsStat.Type != 0x01021994 {
		t.Errorf("secret volume %s: statfs type %x, %v; want tmpfs", secretDir, fsStat.Type, err)
	}
	assertNoSecretOnDisk(t, cl.cfg.StateDir, secretPassword)

	// An update reaches the mounted file within seconds; subPath stays.
	cl.apply(strings.Replace(configObjects, "mode: fast", "mode: slow", 1))
	start := time.Now()
	eventually(t, "updated ConfigMap in the running pod", 10*time.Second, func() bool { return sh("cat /etc/config/mode") == "slow" })
	t.Logf("ConfigMap update reached the pod's file in %s", time.Since(start).Round(time.Millisecond))
	if got := sh("cat /etc/mode-at-start"); got != "fast" {
		t.Errorf("subPath mount = %q after the update, want the value it was mounted with", got)
	}
	if got := sh(`echo "$MODE"`); got != "fast\n" {
		t.Errorf("env = %q after the update: env is set once, at start", got)
	}

	// A required key that is missing holds the container.
	cl.apply(missingKeyPod)
	eventually(t, "missing-key waiting with CreateContainerConfigError", 60*time.Second, func() bool {
		p := cl.pod("missing-key")
		if p == nil || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CreateContainerConfigError" && w.Message == "couldn't find key nope in ConfigMap default/app-config"
	})

	k, _ := object.ByKind("Pod")
	if err := cl.c.Delete(t.Context(), k, "default", "reader"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reader gone", 30*time.Second, func() bool { return cl.pod("reader") == nil })
	if _, err := os.Stat(secretDir); !os.IsNotExist(err) {
		t.Errorf("secret volume %s after the pod was deleted: %v", secretDir, err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mounts, []byte(string(pod.UID))) {
		t.Errorf("a mount of the deleted pod remains:\n%s", mounts)
	}
	assertNoSecretOnDisk(t, cl.cfg.StateDir, secretPassword)
}

// assertNoSecretOnDisk reads every file of the node's state directory outside
// tmpfs mounts (projections, runtime and pod directories) and fails on one that
// holds the secret in clear text or base64.
func assertNoSecretOnDisk(t *testing.T, stateDir, secret string) {
	t.Helper()
	encoded := base64.StdEncoding.EncodeToString([]byte(secret))
	var root syscall.Stat_t
	if err := syscall.Stat(stateDir, &root); err != nil {
		t.Fatal(err)
	}
	files := 0
	err := filepath.WalkDir(stateDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed while walking
		}
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) != nil {
			return nil
		}
		if st.Dev != root.Dev {
			return filepath.SkipDir // a tmpfs volume: never on disk
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		files++
		if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte(encoded)) {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("read %d files under %s: expected the projections and the pod's files", files, stateDir)
	}
}
