package agent

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/probe"
	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

// prober runs every probe and hook of the node (it holds no per-pod state).
var prober = probe.New()

// Hooks, as probeNote.hook names them.
const (
	postStart = "PostStart"
	preStop   = "PreStop"
)

// probeNote hands the worker what a probe or a hook, run on its own
// goroutine, found about attempt id of container name.
type probeNote struct {
	name, id string
	kind     probe.Kind
	hook     string // "": a probe's result; else the hook's
	res      probe.Result
}

// Probes run on a goroutine per active probe of a running container; their
// results come back to the worker (onProbe), which alone holds the
// container's probe.State and acts on it: a readiness change shows in the
// next status report (a status event only when the status changed), a
// liveness or startup failure past its threshold kills the container (its
// exit then restarts it under the restart policy and its back-off), and every
// failed run is an Unhealthy occurrence, coalesced (occurrences.go).

// afterSync starts the probes of running containers that have none yet (just
// started, adopted from an earlier agent, or past their postStart hook) and
// reports repeated occurrences that are due.
func (w *worker) afterSync(ctx context.Context) {
	for i := range w.pod.Spec.Containers {
		c := &w.pod.Spec.Containers[i]
		cs := w.ctrs[c.Name]
		if cs == nil || !cs.running || cs.hooking || cs.probe != nil {
			continue
		}
		cs.probe = probe.NewState(c)
		w.runProbers(ctx, c, cs)
	}
	for _, o := range w.occ.due(time.Now()) {
		w.report1(ctx, o)
	}
}

// runProbers starts a goroutine for each probe of cs that is active and not
// running yet.
func (w *worker) runProbers(ctx context.Context, c *corev1.Container, cs *ctrState) {
	for _, k := range probe.Kinds {
		if cs.probe.Active(k) && cs.probers[k] == nil {
			pctx, cancel := context.WithCancel(ctx)
			cs.probers[k] = cancel
			go w.probeLoop(pctx, k, probe.Of(c, k), w.target(c, cs.id), cs.id, cs.started)
		}
	}
}

// stopProbers ends the container's probe goroutines.
func (cs *ctrState) stopProbers() {
	for k, cancel := range cs.probers {
		if cancel != nil {
			cancel()
			cs.probers[k] = nil
		}
	}
}

// exited forgets the probe state and hooks of the attempt that ended: the
// next attempt starts from a new state.
func (cs *ctrState) exited() {
	cs.stopProbers()
	cs.probe, cs.hooking = nil, false
}

// probeLoop runs one probe every periodSeconds, the first initialDelaySeconds
// after the container started, and hands each result to the worker, until
// ctx ends or the worker does.
func (w *worker) probeLoop(ctx context.Context, k probe.Kind, p *corev1.Probe, t probe.Target, id string, started time.Time) {
	timing, action := probe.TimingOf(p), probe.FromProbe(p)
	timer := time.NewTimer(max(time.Until(started.Add(timing.InitialDelay)), 0))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case <-timer.C:
		}
		began := time.Now()
		res := prober.Run(ctx, action, t, timing.Timeout)
		if ctx.Err() != nil {
			return
		}
		select {
		case w.probeNotes <- probeNote{name: t.Container, id: id, kind: k, res: res}:
		case <-ctx.Done():
			return
		case <-w.done:
			return
		}
		timer.Reset(max(time.Until(began.Add(timing.Period)), 0))
	}
}

// target is attempt id of container c as probes and hooks address it: the
// pod's IP, the container's ports, and exec inside the container.
func (w *worker) target(c *corev1.Container, id string) probe.Target {
	ip := ""
	if w.sandbox != nil {
		ip = w.sandbox.IP
	}
	rt := w.a.rt
	return probe.Target{Container: c.Name, IP: ip, Ports: c.Ports,
		Exec: func(ctx context.Context, cmd []string, out io.Writer) (int, error) {
			return rt.Exec(ctx, id, runtime.ExecConfig{Cmd: cmd, Stdout: out, Stderr: out})
		}}
}

// onProbe acts on a probe's or hook's result, if it is about the container's
// current attempt. It returns false only when nothing changed: a probe that
// passed again, the steady state of a healthy pod, costs no sync and no
// status comparison.
func (w *worker) onProbe(ctx context.Context, n probeNote) bool {
	cs, c := w.ctrs[n.name], w.container(n.name)
	if cs == nil || c == nil || cs.id != n.id {
		return false
	}
	switch n.hook {
	case postStart:
		w.onPostStart(ctx, c, cs, n.res)
		return true
	case preStop:
		if !n.res.OK {
			w.occurred(ctx, c.Name, object.FailedPreStopHook, hookFailure(w.pod, c, preStop, n.res))
		}
		return true
	}
	if !cs.running || cs.probe == nil || !cs.probe.Active(n.kind) {
		return false // a result in flight when the container or the gate moved on
	}
	if !n.res.OK {
		w.occurred(ctx, c.Name, object.Unhealthy, n.kind.String()+" probe failed: "+n.res.Message)
	}
	wasStarted, wasReady := cs.probe.Started(), cs.probe.Ready()
	if cs.probe.Observe(n.kind, n.res.OK) {
		w.kill(ctx, c, cs, fmt.Sprintf("Container %s failed %s probe, will be restarted", c.Name, strings.ToLower(n.kind.String())),
			probe.TimingOf(probe.Of(c, n.kind)).Grace)
		return true
	}
	if !wasStarted && cs.probe.Started() {
		if stop := cs.probers[probe.Startup]; stop != nil {
			stop()
			cs.probers[probe.Startup] = nil
		}
		w.runProbers(ctx, c, cs)
	}
	// A failure may leave a coalesced repeat pending: the worker's next wake
	// must cover it.
	return !n.res.OK || wasStarted != cs.probe.Started() || wasReady != cs.probe.Ready()
}

// kill stops the container's current attempt, after its preStop hook, within
// the grace period (the probe's own, when it sets one, else the pod's); its
// exit restarts it under the restart policy. why, when set, is reported as
// the kubelet's Killing event.
func (w *worker) kill(ctx context.Context, c *corev1.Container, cs *ctrState, why string, probeGrace *time.Duration) {
	cs.stopProbers()
	if why != "" {
		w.occurred(ctx, c.Name, object.Killing, why)
	}
	grace := time.Duration(podGrace(w.pod)) * time.Second
	if probeGrace != nil {
		grace = *probeGrace
	}
	id, t := cs.id, w.target(c, cs.id)
	hook := preStopOf(c)
	go func() {
		if hook != nil && grace > 0 {
			var res probe.Result
			res, grace = runPreStop(ctx, hook, t, grace)
			select {
			case w.probeNotes <- probeNote{name: c.Name, id: id, hook: preStop, res: res}:
			case <-w.done:
			}
		}
		if err := w.a.rt.StopContainer(ctx, id, grace); err != nil {
			w.a.logger.Warn("stop unhealthy container", "pod", w.ns+"/"+w.name, "container", c.Name, "err", err)
		}
	}()
}

// occurred records an occurrence of verb about container and reports it
// when it is the first of its series or a due repeat.
func (w *worker) occurred(ctx context.Context, container, verb, message string) {
	if o, ok := w.occ.happened(occurrenceKey{container: container, verb: verb, message: message}, time.Now()); ok {
		w.report1(ctx, o)
	}
}

// report1 appends one occurrence report on the pod's facet. A report that
// cannot be stored is dropped (logged): it says nothing the pod's state
// depends on.
func (w *worker) report1(ctx context.Context, o occurrence) {
	ref := events.Ref{Kind: "Pod", Namespace: w.ns, Name: w.name, Node: w.a.cfg.NodeName}
	ev, err := events.New("pod."+o.key.verb, ref, w.a.actor(), &object.Occurrence{Container: o.key.container, Count: o.count, FirstTime: o.first.UTC()})
	if err != nil {
		return
	}
	ev.Reason = o.key.message
	if len(ev.Reason) > 1024 {
		ev.Reason = ev.Reason[:1024] + "..."
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.a.appendFacet(actx, ev); err != nil {
		w.a.logger.Warn("report "+o.key.verb, "pod", w.ns+"/"+w.name, "err", err)
	}
}
