package agent

import (
	"context"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/probe"
	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ctrState is what the agent knows of one container of a pod.
type ctrState struct {
	name     string
	image    string
	id       string // the current attempt's container id ("" before the first)
	attempt  uint32
	running  bool
	started  time.Time
	restarts int32
	last     *runtime.ExitStatus // the most recent termination
	// waiting is why the container is not running: ContainerCreating,
	// ErrImagePull, ImagePullBackOff, CrashLoopBackOff, ...
	waiting, waitingMsg string
	retryAt             time.Time // no new attempt before this
	backoff             time.Duration
	done                bool // terminated for good (restart policy)
	// message is the last termination's message (terminationMessagePath,
	// or the log's tail under FallbackToLogsOnError).
	message string
	// stopping: the agent is stopping it for good (a sidecar of a pod
	// whose app containers are done).
	stopping bool

	// probe is the running attempt's probe state (probe.go); nil before its
	// probes start. probers cancel its probe goroutines, by probe.Kind.
	probe   *probe.State
	probers [3]context.CancelFunc
	hooking bool // its postStart hook runs: not started, not ready
}

// isStarted says whether the running container has started, as the
// kubelet's containerStatus.started: past its postStart hook and its startup
// probe.
func (c *ctrState) isStarted() bool {
	return c.running && !c.hooking && (c.probe == nil || c.probe.Started())
}

// ready says whether the container serves: started, and its readiness probe
// (if any) succeeds. Without probes a running container is ready.
func (c *ctrState) ready() bool {
	return c.isStarted() && (c.probe == nil || c.probe.Ready())
}

// podStatus renders the pod's status as the node reports it. It is pure.
func podStatus(pod *corev1.Pod, ctrs []*ctrState, ip, hostIP string, start time.Time) corev1.PodStatus {
	st := corev1.PodStatus{HostIP: hostIP, PodIP: ip, QOSClass: object.PodQOS(pod)}
	if hostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: hostIP}}
	}
	if ip != "" {
		st.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	if !start.IsZero() {
		t := metav1.NewTime(start)
		st.StartTime = &t
	}
	allReady, anyRunning, allDone, allOK := len(ctrs) > 0, false, len(ctrs) > 0, true
	for _, c := range ctrs {
		cs := containerStatus(c)
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		allReady = allReady && cs.Ready
		anyRunning = anyRunning || c.running || c.restarts > 0
		allDone = allDone && c.done
		allOK = allOK && (!c.done || c.last == nil || c.last.Code == 0)
	}
	switch {
	case allDone && allOK:
		st.Phase = corev1.PodSucceeded
	case allDone:
		st.Phase = corev1.PodFailed
	case anyRunning:
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	ready := corev1.ConditionFalse
	if allReady {
		ready = corev1.ConditionTrue
	}
	st.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		{Type: corev1.ContainersReady, Status: ready},
		{Type: corev1.PodReady, Status: ready},
	}
	return st
}

// containerStatus renders one container's status. It is pure.
func containerStatus(c *ctrState) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.name, Image: c.image, RestartCount: c.restarts, Ready: c.ready()}
	if c.id != "" {
		cs.ContainerID = "containerd://" + c.id
	}
	started := c.isStarted()
	cs.Started = &started
	switch {
	case c.running:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.started)}
	case c.done && c.last != nil:
		cs.State.Terminated = terminated(c.last, c.id, c.message)
	default:
		reason := c.waiting
		if reason == "" {
			reason = "ContainerCreating"
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: c.waitingMsg}
	}
	if c.last != nil && !(c.done && cs.State.Terminated != nil) {
		cs.LastTerminationState.Terminated = terminated(c.last, "", c.message)
	}
	return cs
}

func terminated(e *runtime.ExitStatus, id, message string) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{ExitCode: int32(e.Code), Reason: e.Reason, Message: message,
		StartedAt: metav1.NewTime(e.StartedAt), FinishedAt: metav1.NewTime(e.FinishedAt)}
	if id != "" {
		t.ContainerID = "containerd://" + id
	}
	return t
}
