package agent

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wake-run/wake/node/runtime"
	crt "github.com/wake-run/wake/node/runtime/containerd"
	corev1 "k8s.io/api/core/v1"
)

// inventory records the sandboxes and containers still running from an earlier
// agent, so workers adopt them instead of starting them again.
func (a *Agent) inventory(ctx context.Context) error {
	sbs, err := a.rt.ListSandboxes(ctx)
	if err != nil {
		return err
	}
	for _, sb := range sbs {
		a.sandbox[sb.PodUID] = sb
	}
	ctrs, err := a.rt.ListContainers(ctx)
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		a.adopt[c.PodUID] = append(a.adopt[c.PodUID], c)
	}
	return nil
}

// adoptInto gives a new worker the sandbox and containers an earlier agent left.
func (a *Agent) adoptInto(w *worker, pod *corev1.Pod) {
	a.mu.Lock()
	sb, ok := a.sandbox[string(pod.UID)]
	ctrs := a.adopt[string(pod.UID)]
	delete(a.sandbox, string(pod.UID))
	delete(a.adopt, string(pod.UID))
	a.mu.Unlock()
	if !ok {
		return
	}
	w.sandbox, w.start = &sb, sb.CreatedAt
	w.pod = pod
	for _, c := range ctrs {
		cs := w.ctrs[c.Name]
		if cs == nil {
			cs = &ctrState{name: c.Name, image: c.Image}
			w.ctrs[c.Name] = cs
		}
		if c.Attempt < cs.attempt && cs.id != "" {
			continue
		}
		cs.attempt, cs.id, cs.restarts = c.Attempt, c.ID, int32(c.Attempt)
		switch c.State {
		case runtime.ContainerRunning:
			cs.running, cs.started = true, c.StartedAt
			if err := w.watch(context.Background(), c.Name, c.ID); err != nil {
				cs.running = false
			}
		case runtime.ContainerExited:
			if c.Exit != nil {
				w.exits <- exitNote{name: c.Name, id: c.ID, st: *c.Exit}
			}
		}
	}
}

// removeOrphans stops pods this node runs that its inbox no longer assigns to it.
func (a *Agent) removeOrphans(ctx context.Context) {
	a.mu.Lock()
	var orphans []string
	for uid := range a.sandbox {
		orphans = append(orphans, uid)
	}
	a.mu.Unlock()
	for _, uid := range orphans {
		a.logger.Info("removing a pod no longer assigned to this node", "uid", uid)
		a.removePod(ctx, uid, 0)
		a.mu.Lock()
		delete(a.sandbox, uid)
		delete(a.adopt, uid)
		a.mu.Unlock()
	}
}

// removePod stops a pod's containers within grace and removes its sandbox.
func (a *Agent) removePod(ctx context.Context, podUID string, grace time.Duration) {
	ctrs, err := a.rt.ListContainers(ctx)
	if err == nil {
		var wg sync.WaitGroup
		for _, c := range ctrs {
			if c.PodUID != podUID {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c.State == runtime.ContainerRunning {
					_ = a.rt.StopContainer(ctx, c.ID, grace)
				}
				_ = a.rt.RemoveContainer(ctx, c.ID)
			}()
		}
		wg.Wait()
	}
	if err := a.rt.RemoveSandbox(ctx, crt.SandboxID(podUID)); err != nil {
		a.logger.Warn("remove sandbox", "uid", podUID, "err", err)
	}
	a.unmountPodVolumes(podUID)
	_ = os.RemoveAll(filepath.Join(a.cfg.StateDir, "pods", podUID))
}
