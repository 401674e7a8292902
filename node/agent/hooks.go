package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/probe"
	corev1 "k8s.io/api/core/v1"
)

// Lifecycle hooks run through the probes' handlers (package probe). As the
// kubelet's: postStart runs once the container has started; until it
// returns the container is neither started nor ready and its probes wait;
// when it fails the container is killed (FailedPostStartHook) and restarted
// under the restart policy. preStop runs before the stop signal, within the
// grace period: what it takes is taken from the grace the container then
// gets (never less than minGraceAfterPreStop); its failure is reported
// (FailedPreStopHook) and the container stopped anyway.

// minGraceAfterPreStop is the grace a container still gets after its preStop
// hook took the rest, as the kubelet's 2 s.
const minGraceAfterPreStop = 2 * time.Second

func preStopOf(c *corev1.Container) *corev1.LifecycleHandler {
	if c.Lifecycle == nil {
		return nil
	}
	return c.Lifecycle.PreStop
}

// afterStart runs the container's postStart hook, if any, for the attempt
// that has just started; its result comes back to the worker (onProbe).
func (w *worker) afterStart(ctx context.Context, c corev1.Container, cs *ctrState) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	cs.hooking = true
	action, t, id := probe.FromHook(c.Lifecycle.PostStart), w.target(&c, cs.id), cs.id
	go func() {
		res := prober.Run(ctx, action, t, 0)
		select {
		case w.probeNotes <- probeNote{name: c.Name, id: id, hook: postStart, res: res}:
		case <-w.done:
		}
	}()
}

func (w *worker) onPostStart(ctx context.Context, c *corev1.Container, cs *ctrState, res probe.Result) {
	if !cs.hooking || !cs.running {
		return
	}
	if res.OK {
		cs.hooking = false
		return // afterSync starts its probes
	}
	// The attempt stays hooking (neither started nor ready, unprobed) until
	// its exit.
	w.occurred(ctx, c.Name, object.FailedPostStartHook, hookFailure(w.pod, c, postStart, res))
	w.kill(ctx, c, cs, "", nil)
}

// runPreStop runs a preStop hook within grace and returns its result and the
// grace left for the stop signal.
func runPreStop(ctx context.Context, h *corev1.LifecycleHandler, t probe.Target, grace time.Duration) (probe.Result, time.Duration) {
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	res := prober.Run(hctx, probe.FromHook(h), t, 0)
	return res, max(grace-time.Since(start), minGraceAfterPreStop)
}

// hookFailure is the kubelet's message for a failed hook.
func hookFailure(pod *corev1.Pod, c *corev1.Container, hook string, res probe.Result) string {
	var h *corev1.LifecycleHandler
	if c.Lifecycle != nil {
		h = map[string]*corev1.LifecycleHandler{postStart: c.Lifecycle.PostStart, preStop: c.Lifecycle.PreStop}[hook]
	}
	a := probe.FromHook(h)
	what := ""
	switch {
	case a.Exec != nil:
		what = "[" + strings.Join(a.Exec.Command, " ") + "]"
	case a.HTTPGet != nil:
		what = a.HTTPGet.Path
	case a.Sleep != nil:
		what = fmt.Sprintf("%ds", a.Sleep.Seconds)
	}
	return fmt.Sprintf("%s lifecycle hook (%s) for Container %q in Pod %q failed - error: %s",
		a.Kind(), what, c.Name, fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID), strings.TrimSpace(res.Message))
}

// beforeStop ends the pod's probes and runs the preStop hooks of its running
// containers, together, within grace; it returns the grace left for the stop
// signal. A failed hook is reported (FailedPreStopHook).
func (w *worker) beforeStop(ctx context.Context, grace time.Duration) time.Duration {
	var wg sync.WaitGroup
	var mu sync.Mutex
	left := grace
	var failures []string
	for i := range w.pod.Spec.Containers {
		c := &w.pod.Spec.Containers[i]
		cs := w.ctrs[c.Name]
		if cs == nil {
			continue
		}
		cs.stopProbers()
		h := preStopOf(c)
		if h == nil || !cs.running || w.sandbox == nil || grace <= 0 {
			continue // a forced deletion (no grace) runs no hook
		}
		wg.Add(1)
		go func(t probe.Target) {
			defer wg.Done()
			res, rest := runPreStop(ctx, h, t, grace)
			mu.Lock()
			defer mu.Unlock()
			left = min(left, rest)
			if !res.OK {
				failures = append(failures, c.Name, hookFailure(w.pod, c, preStop, res))
			}
		}(w.target(c, cs.id))
	}
	wg.Wait()
	for i := 0; i < len(failures); i += 2 {
		w.occurred(ctx, failures[i], object.FailedPreStopHook, failures[i+1])
	}
	return left
}
