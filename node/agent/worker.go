package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/runtime"
	"github.com/wake-run/wake/node/teardown"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Back-off between restarts of a crashing container, as the kubelet: the first
// restart is immediate, then 10 s doubling up to 5 min; a container that ran 10
// minutes starts again from no back-off.
const (
	backoffStart = 10 * time.Second
	backoffMax   = 5 * time.Minute
	backoffReset = 10 * time.Minute
	retryCreate  = 2 * time.Second
	retryReport  = time.Second
)

type exitNote struct {
	name, id string
	st       runtime.ExitStatus
}

// worker runs one pod: it owns the pod's sandbox and containers, applies the
// restart policy, and reports status. Its state lives in its goroutine.
type worker struct {
	a        *Agent
	ns, name string
	// uid is the pod's: a worker runs one pod, never a later pod of its name.
	uid        types.UID
	update     chan *corev1.Pod
	exits      chan exitNote
	probeNotes chan probeNote // probe.go
	done       chan struct{}
	retired    chan struct{} // closed by retire
	retireOnce sync.Once
	// after, when set, is the worker of an earlier pod of the name: this one
	// starts once that one has stopped its pod.
	after *worker

	pod      *corev1.Pod
	sandbox  *runtime.Sandbox
	ctrs     map[string]*ctrState
	start    time.Time
	reported []byte
	// mountFailure is why the pod's volumes cannot be mounted ("" when they
	// can): its status is reported as a failed-mount saying so.
	mountFailure string
	volumeDirs   map[string]string // the directory of each claim volume (claimDirs)
	counted      corev1.PodPhase   // the phase the agent's metrics count it in
	// initialized: the init containers have done their part (planInit);
	// it stays true for the pod's life.
	initialized bool
	occ         occurrences // probe failures and hook failures, coalesced
}

func newWorker(a *Agent, ns, name string, uid types.UID) *worker {
	return &worker{a: a, ns: ns, name: name, uid: uid, update: make(chan *corev1.Pod, 1), exits: make(chan exitNote, 16), probeNotes: make(chan probeNote, 16),
		done: make(chan struct{}), retired: make(chan struct{}), ctrs: map[string]*ctrState{}}
}

// retire asks the worker to stop its pod, as a pod being deleted, and end: a
// later pod of the name replaces it on this node. It never blocks.
func (w *worker) retire() { w.retireOnce.Do(func() { close(w.retired) }) }

// give hands the worker the newest desired pod, replacing one not yet taken.
func (w *worker) give(pod *corev1.Pod) {
	for {
		select {
		case w.update <- pod:
			return
		default:
			select {
			case <-w.update:
			default:
			}
		}
	}
}

func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	defer w.a.metrics.phase(&w.counted, "")
	if w.after != nil {
		select {
		case <-ctx.Done():
			return
		case <-w.after.done:
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		retired := false
		select {
		case <-ctx.Done():
			return // containers keep running: the next agent adopts them
		case p := <-w.update:
			w.pod = p
		case e := <-w.exits:
			w.onExit(e)
		case n := <-w.probeNotes:
			if !w.onProbe(ctx, n) {
				continue // a probe that passed again: nothing to sync or report
			}
		case <-timer.C:
		case <-w.retired:
			retired = true
		}
		if w.pod == nil {
			if retired {
				return
			}
			continue
		}
		if retired && w.pod.DeletionTimestamp == nil {
			p := w.pod.DeepCopy()
			now := metav1.Now()
			p.DeletionTimestamp = &now
			w.pod = p
		}
		if w.pod.DeletionTimestamp != nil {
			w.stop(ctx)
			return
		}
		w.sync(ctx)
		next := w.nextWake()
		if !w.report(ctx) {
			next = min(next, retryReport) // never wait for the next change to report this one
		}
		timer.Reset(next)
	}
}

func (w *worker) nextWake() time.Duration {
	next := time.Hour
	now := time.Now()
	for _, c := range w.ctrs {
		if !c.running && !c.done && !c.retryAt.IsZero() {
			next = min(next, max(c.retryAt.Sub(now), 10*time.Millisecond))
		}
	}
	if at := w.occ.next(); !at.IsZero() {
		next = min(next, max(at.Sub(now), 10*time.Millisecond))
	}
	return next
}

// sync moves the pod towards running: sandbox first, then every container that
// is neither running, finished, nor backing off.
func (w *worker) sync(ctx context.Context) {
	rt := w.a.rt
	pod := w.pod
	// Exits already delivered (an adopted pod's) count before deciding what
	// to start: an init container that completed is not run again.
	for drained := false; !drained; {
		select {
		case e := <-w.exits:
			w.onExit(e)
		default:
			drained = true
		}
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		if w.ctrs[c.Name] == nil {
			w.ctrs[c.Name] = &ctrState{name: c.Name, image: c.Image}
		}
	}
	if w.sandbox == nil {
		// Held until its volumes can be mounted: nothing of it starts.
		if w.volumeDirs, w.mountFailure = w.a.claimDirs(ctx, pod); w.mountFailure == "" {
			w.mountFailure = w.setUpConfigVolumes(ctx)
		}
		if w.mountFailure != "" {
			for _, c := range w.ctrs {
				c.waiting, c.waitingMsg, c.retryAt = "ContainerCreating", "", time.Now().Add(retryMount)
			}
			return
		}
		sb, err := rt.CreateSandbox(ctx, runtime.SandboxConfig{PodUID: string(pod.UID), Name: pod.Name, Namespace: pod.Namespace,
			Hostname: hostname(pod), Ports: hostPorts(pod), DNS: w.a.podDNS(pod),
			HostNetwork: pod.Spec.HostNetwork, HostIP: w.a.hostIP, HostPID: pod.Spec.HostPID, HostIPC: pod.Spec.HostIPC,
			SharePID: pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace})
		if err != nil {
			for _, c := range w.ctrs {
				c.waiting, c.waitingMsg, c.retryAt = "ContainerCreating", "pod network: "+err.Error(), time.Now().Add(retryCreate)
			}
			w.a.logger.Warn("create sandbox", "pod", w.ns+"/"+w.name, "err", err)
			return
		}
		w.sandbox = &sb
		w.start = time.Now()
	}
	// Refreshed on every pass: the pod's IP once known, a changed ConfigMap,
	// Secret or label. A source gone missing leaves the files as they were.
	if failure := w.setUpConfigVolumes(ctx); failure != "" {
		w.a.logger.Warn("refresh volumes", "pod", w.ns+"/"+w.name, "err", failure)
	}
	now := time.Now()
	due := func(cs *ctrState) bool { return !cs.running && !cs.done && !now.Before(cs.retryAt) }
	plan := planInit(pod, w.ctrs, w.initialized)
	for _, c := range pod.Spec.InitContainers {
		// The next init container, and sidecars that started once and exited.
		if cs := w.ctrs[c.Name]; due(cs) && (c.Name == plan.start || isSidecar(&c) && cs.id != "") {
			w.startContainer(ctx, c, cs)
		}
	}
	if !plan.initialized {
		return
	}
	w.initialized = true
	for _, c := range pod.Spec.Containers {
		if cs := w.ctrs[c.Name]; due(cs) {
			w.startContainer(ctx, c, cs)
		}
	}
	if appsDone(pod, w.ctrs) {
		w.stopSidecars()
	}
	w.afterSync(ctx)
}

func (w *worker) startContainer(ctx context.Context, c corev1.Container, cs *ctrState) {
	rt := w.a.rt
	creds, note, err := w.pullCredentials(ctx)
	if err != nil {
		cs.waiting, cs.waitingMsg, cs.retryAt = "ErrImagePull", err.Error(), time.Now().Add(retryCreate)
		return
	}
	img, err := rt.EnsureImage(ctx, c.Image, c.ImagePullPolicy, creds...)
	if err != nil {
		reason := "ErrImagePull"
		if errors.Is(err, runtime.ErrImageNeverPull) {
			reason = "ErrImageNeverPull"
		} else if cs.waiting == "ErrImagePull" || cs.waiting == "ImagePullBackOff" {
			reason = "ImagePullBackOff"
		}
		cs.waiting, cs.waitingMsg = reason, err.Error()
		if note != "" {
			cs.waitingMsg += " (" + note + ")"
		}
		cs.backoff = nextBackoff(cs.backoff)
		cs.retryAt = time.Now().Add(cs.backoff)
		return
	}
	env, err := w.env(ctx, &c)
	if err != nil {
		cs.waiting, cs.waitingMsg, cs.retryAt = "CreateContainerConfigError", err.Error(), time.Now().Add(retryCreate)
		return
	}
	cfg := runtime.ContainerConfig{Name: c.Name, Attempt: cs.attempt, Image: img.Ref, Command: c.Command, Args: c.Args,
		Env: env, WorkingDir: c.WorkingDir, Mounts: w.mounts(c),
		Resources: runtime.ResourcesFor(c.Resources), Labels: map[string]string{teardown.LabelGracePeriod: strconv.FormatInt(podGrace(w.pod), 10)},
		Security: runtime.SecurityFor(w.pod, &c), Pod: fmt.Sprintf("%s_%s(%s)", w.pod.Name, w.pod.Namespace, w.pod.UID), TTY: c.TTY}
	id, err := w.createContainer(ctx, c, cfg)
	if errors.Is(err, runtime.ErrAlreadyExists) {
		cs.attempt++ // left over from a crash between create and start
		cfg.Attempt = cs.attempt
		id, err = w.createContainer(ctx, c, cfg)
	}
	var configErr *runtime.ConfigError
	if errors.As(err, &configErr) {
		cs.waiting, cs.waitingMsg, cs.retryAt = "CreateContainerConfigError", configErr.Message, time.Now().Add(retryCreate)
		return
	}
	if err != nil {
		cs.waiting, cs.waitingMsg, cs.retryAt = "CreateContainerError", err.Error(), time.Now().Add(retryCreate)
		return
	}
	if err := w.watch(ctx, c.Name, id); err != nil {
		cs.waiting, cs.waitingMsg, cs.retryAt = "CreateContainerError", err.Error(), time.Now().Add(retryCreate)
		return
	}
	if _, err := rt.StartContainer(ctx, id); err != nil {
		cs.waiting, cs.waitingMsg, cs.retryAt = "RunContainerError", err.Error(), time.Now().Add(retryCreate)
		return
	}
	cs.id, cs.running, cs.started, cs.waiting, cs.waitingMsg = id, true, time.Now(), "", ""
	w.afterStart(ctx, c, cs)
}

// watch forwards the container's exit to the worker.
func (w *worker) watch(ctx context.Context, name, id string) error {
	ch, err := w.a.rt.WaitContainer(ctx, id)
	if err != nil {
		return err
	}
	go func() {
		select {
		case st, ok := <-ch:
			if ok {
				select {
				case w.exits <- exitNote{name: name, id: id, st: st}:
				case <-w.done:
				}
			}
		case <-w.done:
		}
	}()
	return nil
}

func (w *worker) onExit(e exitNote) {
	cs := w.ctrs[e.name]
	if cs == nil || cs.id != e.id {
		return
	}
	st := e.st
	cs.running, cs.last = false, &st
	cs.message = w.terminationMessage(e.name, cs.attempt, e.id, st.Code)
	cs.exited()
	policy := restartPolicyOf(w.pod, e.name)
	if policy == corev1.RestartPolicyNever || (policy == corev1.RestartPolicyOnFailure && st.Code == 0) || cs.stopping {
		cs.done = true
		return
	}
	if !st.StartedAt.IsZero() && st.FinishedAt.Sub(st.StartedAt) > backoffReset {
		cs.backoff = 0
	}
	cs.restarts++
	cs.attempt++
	w.a.metrics.restarted()
	if cs.restarts == 1 {
		cs.retryAt = time.Now() // the first restart is immediate
	} else {
		cs.backoff = nextBackoff(cs.backoff)
		cs.retryAt = time.Now().Add(cs.backoff)
		cs.waiting = "CrashLoopBackOff"
		cs.waitingMsg = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s", cs.backoff, cs.name, w.name, w.ns)
	}
	if cs.attempt >= 2 {
		// Keep the previous attempt (for logs --previous); remove the one before.
		old := w.a.containerID(w.sandbox, cs.name, cs.attempt-2)
		_ = w.a.rt.RemoveContainer(context.Background(), old)
	}
}

func nextBackoff(b time.Duration) time.Duration {
	if b == 0 {
		return backoffStart
	}
	return min(2*b, backoffMax)
}

// stop stops every container with the pod's grace period, releases the sandbox,
// and reports the pod stopped, so the dispatcher can delete it.
func (w *worker) stop(ctx context.Context) {
	grace := time.Duration(podGrace(w.pod)) * time.Second
	if g := w.pod.DeletionGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	grace = w.beforeStop(ctx, grace)
	grace = w.stopBeforeSidecars(ctx, grace)
	w.a.removePod(ctx, string(w.pod.UID), grace)
	ref := events.Ref{Kind: "Pod", Namespace: w.ns, Name: w.name, Node: w.a.cfg.NodeName}
	// The uid says which pod of the name was stopped, so a late report is never
	// taken for a newer pod's.
	ev, _ := events.New("pod."+object.Stopped, ref, w.a.actor(), &object.Deletion{UID: string(w.pod.UID)})
	ev.Reason = fmt.Sprintf("containers stopped (grace %s) and network released", grace)
	// Until it is stored the pod stays Terminating: retry until then, or until
	// the agent stops (the next one stops the still assigned pod again).
	for delay := retryReport; ; delay = min(2*delay, 30*time.Second) {
		err := w.a.appendFacet(ctx, ev)
		if err == nil {
			return
		}
		w.a.logger.Warn("report stopped", "pod", w.ns+"/"+w.name, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// report appends the pod's status when it changed since the last report. It
// returns false when a changed status could not be stored: the caller reports
// again soon.
func (w *worker) report(ctx context.Context) bool {
	var ctrs []*ctrState
	for _, c := range w.pod.Spec.Containers {
		ctrs = append(ctrs, w.ctrs[c.Name])
	}
	ip := ""
	if w.sandbox != nil {
		ip = w.sandbox.IP
	}
	st := podStatus(w.pod, ctrs, ip, w.a.hostIP, w.start)
	st = withInit(st, w.pod, w.ctrs, planInit(w.pod, w.ctrs, w.initialized))
	data, _ := json.Marshal(st)
	if string(data) == string(w.reported) {
		return true
	}
	ref := events.Ref{Kind: "Pod", Namespace: w.ns, Name: w.name, Node: w.a.cfg.NodeName}
	ev, _ := events.New("pod."+object.Status, ref, w.a.actor(), &object.StatusChange{Status: data})
	ev.Reason = summary(st)
	if w.mountFailure != "" {
		ev.Type, ev.Reason = "pod."+object.FailedMount, w.mountFailure
	}
	if err := w.a.appendFacet(ctx, ev); err != nil {
		w.a.logger.Warn("report status", "pod", w.ns+"/"+w.name, "err", err)
		return false
	}
	w.reported = data
	w.a.metrics.phase(&w.counted, st.Phase)
	return true
}

func summary(st corev1.PodStatus) string {
	s := string(st.Phase)
	for _, c := range slices.Concat(st.InitContainerStatuses, st.ContainerStatuses) {
		switch {
		case c.State.Waiting != nil:
			s += fmt.Sprintf("; %s: %s", c.Name, c.State.Waiting.Reason)
			if m := c.State.Waiting.Message; m != "" && c.State.Waiting.Reason != "CrashLoopBackOff" {
				if len(m) > 300 {
					m = m[:300] + "..."
				}
				s += " (" + m + ")" // e.g. the registry's answer to a failed pull
			}
		case c.State.Terminated != nil:
			s += fmt.Sprintf("; %s: %s (exit %d)", c.Name, c.State.Terminated.Reason, c.State.Terminated.ExitCode)
		case !c.Ready:
			s += fmt.Sprintf("; %s: not ready", c.Name) // its probes or postStart hook say so
		}
		if c.RestartCount > 0 {
			s += fmt.Sprintf("; %s restarts: %d", c.Name, c.RestartCount)
		}
	}
	return s
}

func hostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}

func hostPorts(pod *corev1.Pod) []runtime.PortMapping {
	var out []runtime.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				out = append(out, runtime.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: string(p.Protocol), HostIP: p.HostIP})
			}
		}
	}
	return out
}

// mounts renders emptyDir (a directory of the pod under the agent's state),
// hostPath and claim volumes (pvc.go) at their subPath, and config volumes
// (configMap, secret, downwardAPI, projected: read only, their subPath resolved
// once, see volumesetup.go); other volume kinds are not mounted by this build.
func (w *worker) mounts(c corev1.Container) []runtime.Mount {
	var out []runtime.Mount
	for _, vm := range c.VolumeMounts {
		for _, v := range w.pod.Spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			var host string
			readOnly := vm.ReadOnly
			switch {
			case isConfigVolume(&v):
				host, readOnly = w.configMountSource(&v, vm), true
			case v.EmptyDir != nil:
				host = filepath.Join(w.a.cfg.StateDir, "pods", string(w.pod.UID), "volumes", v.Name)
				_ = prepareEmptyDir(host, w.pod.Spec.SecurityContext)
			case v.HostPath != nil:
				host = v.HostPath.Path
				if v.HostPath.Type != nil && (*v.HostPath.Type == corev1.HostPathDirectoryOrCreate) {
					_ = mkdirAll(host)
				}
			case v.PersistentVolumeClaim != nil || v.Ephemeral != nil:
				host = w.volumeDirs[v.Name]
			}
			if host != "" {
				if !isConfigVolume(&v) {
					var ok bool
					if host, ok = mountSource(host, vm); !ok {
						continue // a subPath outside its volume: validation refuses it
					}
				}
				out = append(out, runtime.Mount{HostPath: host, ContainerPath: vm.MountPath, ReadOnly: readOnly})
			}
		}
	}
	return out
}

// podGrace is the pod's terminationGracePeriodSeconds, Kubernetes' 30 when unset.
func podGrace(pod *corev1.Pod) int64 {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return int64(teardown.DefaultGracePeriod / time.Second)
}
