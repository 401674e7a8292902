package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// storageNode is a node whose agent keeps local-path volumes under /srv/wake.
const storageNode = `apiVersion: v1
kind: Node
metadata: {name: node-s, annotations: {wake.run/local-path-root: /srv/wake/storage}}
`

const staticStorage = `apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-manual, labels: {tier: db}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce, ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual
  hostPath: {path: /srv/wake-test-manual}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: db}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 500Mi}}
  selector: {matchLabels: {tier: db}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: later}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`

// A cluster whose node can provision gets the default local-path class; a claim binds a fitting
// static volume (kubectl's columns show both Bound, with the volume's capacity
// and modes); a claim without a class gets the default one and waits for its
// first consumer; deleting a claim leaves its Retain volume Released.
func TestGetStorage(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("node.yaml", storageNode))
	var out string
	waitFor(t, "the default class", func() bool {
		out = h.ok("get", "sc").out
		return out != ""
	}, &out)
	if !regexp.MustCompile(`^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE\n` +
		`local-path \(default\)\s+wake.run/local-path\s+Delete\s+WaitForFirstConsumer\s+false\s+\d+s\n$`).MatchString(out) {
		t.Errorf("get sc:\n%s", out)
	}
	h.ok("apply", "-f", h.file("storage.yaml", staticStorage))
	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^persistentvolume/pv-manual\s+1Gi\s+RWO,ROX\s+Retain\s+Bound\s+default/db\s+manual\s+<unset>\s+\d+s$`),
		regexp.MustCompile(`(?m)^persistentvolumeclaim/db\s+Bound\s+pv-manual\s+1Gi\s+RWO,ROX\s+manual\s+<unset>\s+\d+s$`),
		regexp.MustCompile(`(?m)^persistentvolumeclaim/later\s+Pending\s+local-path\s+<unset>\s+\d+s$`),
	}
	waitFor(t, "claims settled", func() bool {
		out = h.ok("get", "pv,pvc").out
		for _, w := range want {
			if !w.MatchString(out) {
				return false
			}
		}
		return true
	}, &out)
	h.ok("delete", "pvc", "db")
	waitFor(t, "volume Released", func() bool {
		out = h.ok("get", "pv").out
		return regexp.MustCompile(`(?m)^pv-manual\s+1Gi\s+RWO,ROX\s+Retain\s+Released\s+default/db\s+manual\s+<unset>\s+\d+s$`).MatchString(out)
	}, &out)
}

// waitFor waits up to 15s for cond; last is the output to show if it never holds.
func waitFor(t *testing.T, what string, cond func() bool, last *string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 15s; last output:\n%s", what, strings.TrimSpace(*last))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
