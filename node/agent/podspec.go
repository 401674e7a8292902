package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

// The kubelet's limits on a termination message: the file is read up to
// 4 KiB; the log's tail under FallbackToLogsOnError is its last 80 lines,
// at most 2 KiB of them.
const (
	maxTerminationMessage = 4 * 1024
	fallbackLogLines      = 80
	fallbackLogBytes      = 2 * 1024
)

// sidecarGraceMin is what sidecars get to stop in when the app containers
// used up the pod's grace period.
const sidecarGraceMin = 2 * time.Second

// container is the pod's init or app container of that name.
func (w *worker) container(name string) *corev1.Container {
	for _, list := range [][]corev1.Container{w.pod.Spec.InitContainers, w.pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func (w *worker) terminationLogPath(name string, attempt uint32) string {
	return filepath.Join(w.a.cfg.StateDir, "pods", string(w.pod.UID), "termination", fmt.Sprintf("%s-%d", name, attempt))
}

// createContainer creates one attempt of c with its termination message file
// mounted at terminationMessagePath: an empty file of the attempt, writable
// by any user the container runs as.
func (w *worker) createContainer(ctx context.Context, c corev1.Container, cfg runtime.ContainerConfig) (string, error) {
	if c.TerminationMessagePath != "" {
		path := w.terminationLogPath(c.Name, cfg.Attempt)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, nil, 0o666); err != nil {
			return "", err
		}
		if err := os.Chmod(path, 0o666); err != nil { // past the umask
			return "", err
		}
		cfg.Mounts = append(slices.Clone(cfg.Mounts), runtime.Mount{HostPath: path, ContainerPath: c.TerminationMessagePath})
	}
	return w.a.rt.CreateContainer(ctx, *w.sandbox, cfg)
}

// terminationMessage is what the container's attempt left in its
// termination message file, or under FallbackToLogsOnError, when it left
// nothing and failed, the tail of its log.
func (w *worker) terminationMessage(name string, attempt uint32, id string, code int) string {
	c := w.container(name)
	if c == nil || c.TerminationMessagePath == "" {
		return ""
	}
	msg := readUpTo(w.terminationLogPath(name, attempt), maxTerminationMessage, false)
	if msg == "" && code != 0 && c.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		msg = logTail([]byte(readUpTo(w.a.rt.LogPath(id), 64*1024, true)), fallbackLogLines, fallbackLogBytes)
	}
	return msg
}

// readUpTo reads at most n bytes of a file: its first, or its last.
func readUpTo(path string, n int64, last bool) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if last {
		if fi, err := f.Stat(); err == nil && fi.Size() > n {
			_, _ = f.Seek(fi.Size()-n, io.SeekStart)
		}
	}
	b, _ := io.ReadAll(io.LimitReader(f, n))
	return string(b)
}

// logTail is the end of a log as the kubelet takes it for a termination
// message: its last lines (a final newline ends the last line, it does not
// start one), then at most maxBytes of their end. It is pure.
func logTail(log []byte, lines, maxBytes int) string {
	end := len(log)
	if end > 0 && log[end-1] == '\n' {
		end--
	}
	start := end
	for n := 0; n < lines && start > 0; n++ {
		i := bytes.LastIndexByte(log[:start], '\n')
		start = i
		if i < 0 {
			start = 0
			break
		}
	}
	if start > 0 {
		start++ // after the newline
	}
	tail := log[start:]
	if len(tail) > maxBytes {
		tail = tail[len(tail)-maxBytes:]
	}
	return string(tail)
}

// prepareEmptyDir makes an emptyDir volume's directory as the kubelet does:
// writable by every user (0777) and, with the pod's fsGroup, owned by that
// group with the setgid bit, so files created in it belong to the group.
func prepareEmptyDir(dir string, psc *corev1.PodSecurityContext) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	mode := os.FileMode(0o777)
	if psc != nil && psc.FSGroup != nil {
		if err := os.Chown(dir, -1, int(*psc.FSGroup)); err != nil {
			return err
		}
		mode |= os.ModeSetgid
	}
	return os.Chmod(dir, mode)
}

// stopBeforeSidecars stops the app containers (and a running regular init
// container) of a pod that has sidecars, within grace, and returns the grace
// left for the sidecars, which the pod's removal then stops: sidecars stop
// last, as the kubelet stops them. A pod without sidecars keeps its grace.
func (w *worker) stopBeforeSidecars(ctx context.Context, grace time.Duration) time.Duration {
	var ids []string
	hasSidecar := false
	for _, c := range w.pod.Spec.InitContainers {
		if isSidecar(&c) {
			hasSidecar = true
		} else if cs := w.ctrs[c.Name]; cs != nil && cs.running {
			ids = append(ids, cs.id)
		}
	}
	if !hasSidecar {
		return grace
	}
	for _, c := range w.pod.Spec.Containers {
		if cs := w.ctrs[c.Name]; cs != nil && cs.running {
			ids = append(ids, cs.id)
		}
	}
	deadline := time.Now().Add(grace)
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = w.a.rt.StopContainer(ctx, id, grace)
		}()
	}
	wg.Wait()
	return max(time.Until(deadline), sidecarGraceMin)
}

// appsDone is true once every app container has terminated for good: a
// pod's sidecars then stop, as the kubelet stops them, so it can complete.
func appsDone(pod *corev1.Pod, ctrs map[string]*ctrState) bool {
	for _, c := range pod.Spec.Containers {
		if cs := ctrs[c.Name]; cs == nil || !cs.done {
			return false
		}
	}
	return len(pod.Spec.Containers) > 0
}

// stopSidecars stops the running sidecars of a pod whose app containers are
// done, without waiting: their exits arrive as any container's, and onExit
// then keeps them stopped.
func (w *worker) stopSidecars() {
	grace := time.Duration(podGrace(w.pod)) * time.Second
	for _, c := range w.pod.Spec.InitContainers {
		if cs := w.ctrs[c.Name]; isSidecar(&c) && cs != nil && cs.running && !cs.stopping {
			cs.stopping = true
			id := cs.id
			go func() { _ = w.a.rt.StopContainer(context.Background(), id, grace) }()
		}
	}
}
