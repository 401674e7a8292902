package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// nodeCapacity is this machine's CPU and memory: the limits the downward API
// reports for a container that sets none.
var nodeCapacity = sync.OnceValues(func() (resource.Quantity, resource.Quantity) {
	return *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI), *resource.NewQuantity(memTotal(), resource.BinarySI)
})

func (w *worker) facts() podFacts {
	cpu, mem := nodeCapacity()
	f := podFacts{hostIP: w.a.hostIP, nodeCPU: cpu, nodeMemory: mem}
	if w.sandbox != nil {
		f.podIP = w.sandbox.IP
	}
	return f
}

// env is the container's environment (see containerEnv).
func (w *worker) env(ctx context.Context, c *corev1.Container) ([]string, error) {
	return containerEnv(c, w.pod, w.facts(), w.a.configSource(ctx))
}

func (a *Agent) podVolumeDir(uid, volume string) string {
	return filepath.Join(a.cfg.StateDir, "pods", uid, "volumes", volume)
}

// setUpConfigVolumes writes (or refreshes) the files of the pod's configMap,
// secret, downwardAPI and projected volumes. It returns why a volume cannot be
// set up, in the words of the kubelet's FailedMount event, or "". A volume
// whose source went missing after it was set up keeps its files.
func (w *worker) setUpConfigVolumes(ctx context.Context) string {
	src := w.a.configSource(ctx)
	facts := w.facts()
	for i := range w.pod.Spec.Volumes {
		v := &w.pod.Spec.Volumes[i]
		if !isConfigVolume(v) {
			continue
		}
		files, err := volumeFiles(v, w.pod, facts, src)
		if err == nil {
			err = w.a.writeVolume(string(w.pod.UID), v, files)
		}
		if err != nil {
			return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", v.Name, err)
		}
	}
	return ""
}

// writeVolume writes a config volume's files, on a tmpfs of its own for the
// volumes that must never reach the disk (see inMemory).
func (a *Agent) writeVolume(uid string, v *corev1.Volume, files map[string]volumeFile) error {
	dir := a.podVolumeDir(uid, v.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if inMemory(v) {
		mounted, err := isMountPoint(dir)
		if err != nil {
			return err
		}
		if !mounted {
			// No exec, devices or setuid; readable by the pod's users, as the
			// files' modes say.
			if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755"); err != nil {
				return fmt.Errorf("mount tmpfs for volume %s: %w", v.Name, err)
			}
		}
	}
	_, err := writeAtomic(dir, files)
	return err
}

// isMountPoint reports whether dir is on another device than its parent.
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

// unmountPodVolumes unmounts the tmpfs of every volume of the pod, so removing
// the pod's directory removes what they held (a Secret's files are gone with
// the pod).
func (a *Agent) unmountPodVolumes(uid string) {
	unmountVolumesUnder(filepath.Join(a.cfg.StateDir, "pods", uid, "volumes"))
}

func unmountVolumesUnder(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if m, err := isMountPoint(p); err == nil && m {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				continue
			}
		}
	}
}

// configMountSource is the host path a container mounts for a config volume:
// the volume's directory, or with subPath the file or directory it names,
// resolved now, so the mount keeps what it held when the container started
// (the kubelet does not refresh subPath mounts).
func (w *worker) configMountSource(v *corev1.Volume, vm corev1.VolumeMount) string {
	dir := w.a.podVolumeDir(string(w.pod.UID), v.Name)
	if vm.SubPath == "" {
		return dir
	}
	if checkVolumePath(vm.SubPath) != nil {
		return ""
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(dir, vm.SubPath))
	if err != nil {
		return ""
	}
	return resolved
}
