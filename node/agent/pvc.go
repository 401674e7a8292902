package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
)

// Persistent volumes on the node. A pod's claim is resolved when its sandbox is
// about to be created, as the kubelet does: the claim, then its bound volume,
// read from the query service. The volume must be one this node reaches (its
// node affinity); its directory (a hostPath or local path) is created if
// missing and bind-mounted into the containers. The local-path provisioner
// puts volumes for this node under storageRoot, which the agent announces on
// its Node (object.LocalPathRootAnnotation); when such a volume is reclaimed
// under Delete, the binder sends a revoked event to this node's inbox and the
// agent removes the directory, never one outside its root.

// storageRoot is where this node keeps local-path volumes.
func (a *Agent) storageRoot() string { return filepath.Join(a.cfg.StateDir, "storage") }

// annotateStorage records the storage root on node; it reports whether the
// annotation changed.
func (a *Agent) annotateStorage(node *corev1.Node) bool {
	root := a.storageRoot()
	if node.Annotations[object.LocalPathRootAnnotation] == root {
		return false
	}
	anns := map[string]string{}
	for k, v := range node.Annotations {
		anns[k] = v
	}
	anns[object.LocalPathRootAnnotation] = root
	node.Annotations = anns
	return true
}

// retryMount is how soon a pod held for its volumes tries again.
const retryMount = 2 * time.Second

// claimDirs resolves the pod's claims through the query service (resolveClaims)
// and creates their directories.
func (a *Agent) claimDirs(ctx context.Context, pod *corev1.Pod) (map[string]string, string) {
	dirs, why := resolveClaims(pod, a.cfg.NodeName, func(kind, ns, name string) (object.Object, error) {
		k, _ := object.ByKind(kind)
		st, err := a.query.Get(ctx, k, ns, name)
		if err != nil {
			return nil, err
		}
		return st.Object, nil
	})
	for name, dir := range dirs {
		if err := mkdirAll(dir); err != nil {
			return nil, fmt.Sprintf("MountVolume.SetUp failed for volume %q: %v", name, err)
		}
	}
	return dirs, why
}

// lookupFunc reads an object (an error wrapping query.ErrNotFound: none).
type lookupFunc func(kind, namespace, name string) (object.Object, error)

// resolveClaims finds the directory of every claim volume of pod (volume name
// -> directory) as node sees it. It returns why the node cannot mount them
// yet, in the kubelet's words, or "" when it can. An ephemeral volume's claim is
// <pod>-<volume>; wake creates none from templates yet. It is pure over get.
func resolveClaims(pod *corev1.Pod, node string, get lookupFunc) (map[string]string, string) {
	var names []string
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			names = append(names, v.Name)
		}
	}
	if len(names) == 0 {
		return nil, ""
	}
	fail := func(claim, why string) (map[string]string, string) {
		list := strings.Join(names, " ")
		return nil, fmt.Sprintf("Unable to attach or mount volumes: unmounted volumes=[%s], unattached volumes=[%s]: error processing PVC %s/%s: %s",
			list, list, pod.Namespace, claim, why)
	}
	dirs := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		var claim string
		switch {
		case v.PersistentVolumeClaim != nil:
			claim = v.PersistentVolumeClaim.ClaimName
		case v.Ephemeral != nil:
			claim = pod.Name + "-" + v.Name
		default:
			continue
		}
		obj, err := get("PersistentVolumeClaim", pod.Namespace, claim)
		if errors.Is(err, query.ErrNotFound) {
			return fail(claim, fmt.Sprintf("persistentvolumeclaim %q not found", claim))
		}
		if err != nil {
			return fail(claim, "failed to fetch PVC: "+err.Error())
		}
		pvc := obj.(*corev1.PersistentVolumeClaim)
		if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
			return fail(claim, "PVC is not bound")
		}
		obj, err = get("PersistentVolume", "", pvc.Spec.VolumeName)
		if errors.Is(err, query.ErrNotFound) {
			return fail(claim, fmt.Sprintf("persistentvolume %q not found", pvc.Spec.VolumeName))
		}
		if err != nil {
			return fail(claim, "failed to fetch PV: "+err.Error())
		}
		pv := obj.(*corev1.PersistentVolume)
		dir := object.VolumePath(pv)
		switch {
		case dir == "":
			return fail(claim, fmt.Sprintf("persistentvolume %q has no hostPath or local path", pv.Name))
		case object.VolumeNode(pv) != "" && object.VolumeNode(pv) != node:
			return fail(claim, fmt.Sprintf("persistentvolume %q is on node %s", pv.Name, object.VolumeNode(pv)))
		}
		dirs[v.Name] = dir
	}
	return dirs, ""
}

// mountSource is the host directory a volume mount binds: the volume's
// directory, or its subPath inside it (created if missing, and never outside
// it).
func mountSource(dir string, vm corev1.VolumeMount) (string, bool) {
	if vm.SubPath == "" {
		return dir, true
	}
	sub := filepath.Join(dir, vm.SubPath)
	if rel, err := filepath.Rel(dir, sub); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	if _, err := os.Lstat(sub); errors.Is(err, os.ErrNotExist) {
		_ = mkdirAll(sub)
	}
	return sub, true
}

// foldVolume folds a volume's facet: a revoked volume is kept under
// r\x00<name> for the sweep, which removes its directory.
func foldVolume(s projections.State, ev *events.Event) error {
	if ev.Type != "persistentvolume."+object.Revoked {
		return fmt.Errorf("%w: unknown inbox event %s", object.ErrFold, ev.Type)
	}
	var r object.VolumeRelease
	if err := json.Unmarshal(ev.Payload, &r); err != nil || r.Path == "" {
		return fmt.Errorf("%w: %s payload: want {uid, path}: %v", object.ErrFold, ev.Type, err)
	}
	return s.Set([]byte("r\x00"+ev.Object.Name), ev.Payload)
}

// sweepVolumes removes, every few seconds, the directories of the revoked
// volumes under this node's storage root, until ctx ends.
func (a *Agent) sweepVolumes(ctx context.Context) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		a.removeRevoked()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (a *Agent) removeRevoked() {
	root := a.storageRoot()
	var paths []string
	_ = a.runner.View(func(rd projections.Reader, _ uint64) error {
		return rd.Scan([]byte("r\x00"), false, func(_, v []byte) bool {
			var r object.VolumeRelease
			if json.Unmarshal(v, &r) == nil {
				paths = append(paths, r.Path)
			}
			return true
		})
	})
	for _, p := range paths {
		rel, err := filepath.Rel(root, filepath.Clean(p))
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.Contains(rel, "/") {
			continue // only a directory directly under the root is the provisioner's
		}
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			a.logger.Warn("remove reclaimed volume", "path", p, "err", err)
		} else {
			a.logger.Info("removed reclaimed volume", "path", p)
		}
	}
}
