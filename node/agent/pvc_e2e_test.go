package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
)

const claimManifest = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
`

// claimPod mounts the claim whole at /data and its "sub" directory at /sub.
func claimPod(name, script string) string {
	return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sh, -c, '` + script + `']
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: data, mountPath: /sub, subPath: sub}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
`
}

// A pod writes to a claim of the default local-path class, is deleted, and a
// new pod on the same claim reads what it wrote; the volume was provisioned on
// the pod's node under the agent's state directory. Deleting the claim deletes
// the volume (reclaim policy Delete) and the node removes its directory.
func TestClaimDataOutlivesItsPod(t *testing.T) {
	cl := startClusterWith(t, 0, "node-s", "10.66.13.0/24", "wke2es")
	importDemo(t, cl)
	ctx := context.Background()
	pvcKind, _ := object.ByKind("PersistentVolumeClaim")
	pvKind, _ := object.ByKind("PersistentVolume")

	cl.apply(claimManifest + "---\n" + claimPod("writer", "mkdir -p /data/sub && echo written-by-writer > /data/sub/greeting && sleep 3600"))
	eventually(t, "writer running", 90*time.Second, func() bool { return running(cl.pod("writer")) })

	st, err := cl.c.Query.Get(ctx, pvcKind, "default", "data")
	if err != nil {
		t.Fatal(err)
	}
	pvc := st.Object.(*corev1.PersistentVolumeClaim)
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" || object.ClaimClassName(pvc) != "local-path" ||
		pvc.Annotations[object.SelectedNodeAnnotation] != "node-s" {
		t.Fatalf("claim: phase %s, volume %q, class %q, selected node %q; want Bound to a local-path volume on node-s",
			pvc.Status.Phase, pvc.Spec.VolumeName, object.ClaimClassName(pvc), pvc.Annotations[object.SelectedNodeAnnotation])
	}
	st, err = cl.c.Query.Get(ctx, pvKind, "", pvc.Spec.VolumeName)
	if err != nil {
		t.Fatal(err)
	}
	pv := st.Object.(*corev1.PersistentVolume)
	dir := object.VolumePath(pv)
	root := filepath.Join(cl.cfg.StateDir, "storage")
	if filepath.Dir(dir) != root || object.VolumeNode(pv) != "node-s" || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Fatalf("volume %s: path %s (want under %s), node %q, policy %s", pv.Name, dir, root, object.VolumeNode(pv), pv.Spec.PersistentVolumeReclaimPolicy)
	}
	eventually(t, "the file on the node", 10*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "sub", "greeting"))
		return err == nil && string(b) == "written-by-writer\n"
	})

	out, _, err := cl.wake("", "get", "pv,pvc")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^NAME\s+CAPACITY\s+ACCESS MODES\s+RECLAIM POLICY\s+STATUS\s+CLAIM\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+REASON\s+AGE$`),
		regexp.MustCompile(`(?m)^persistentvolume/` + pv.Name + `\s+64Mi\s+RWO\s+Delete\s+Bound\s+default/data\s+local-path\s+<unset>\s+\d+s$`),
		regexp.MustCompile(`(?m)^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE$`),
		regexp.MustCompile(`(?m)^persistentvolumeclaim/data\s+Bound\s+` + pv.Name + `\s+64Mi\s+RWO\s+local-path\s+<unset>\s+\d+s$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("get pv,pvc lacks %s:\n%s", want, out)
		}
	}

	if _, _, err := cl.wake("", "delete", "pod", "writer"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "writer gone", 60*time.Second, func() bool { return cl.pod("writer") == nil })
	cl.apply(claimPod("reader", "cat /sub/greeting; sleep 3600"))
	eventually(t, "reader reads what writer wrote", 90*time.Second, func() bool {
		out, _, err := cl.wake("", "logs", "reader")
		return err == nil && out == "written-by-writer\n"
	})

	// Reclaim: the claim goes, then (once no pod mounts it) its volume and directory.
	if _, _, err := cl.wake("", "delete", "pod", "reader"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.wake("", "delete", "pvc", "data"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "volume deleted and its directory removed", 60*time.Second, func() bool {
		_, err := cl.c.Query.Get(ctx, pvKind, "", pv.Name)
		_, statErr := os.Stat(dir)
		return errors.Is(err, query.ErrNotFound) && errors.Is(statErr, os.ErrNotExist)
	})
	if _, err := os.Stat(root); err != nil {
		t.Errorf("the storage root went with the volume: %v", err)
	}
}
