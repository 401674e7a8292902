package agent

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// initPlan is what a pod's init containers allow now (planInit).
type initPlan struct {
	// start names the init container to start now, if any: the first one
	// that has not run to completion (or, for a sidecar, not started yet).
	start string
	// initialized: every regular init container has exited 0 and every
	// sidecar has started, so the app containers may start.
	initialized bool
	// failed names the init container that failed under restartPolicy
	// Never: the pod has failed and nothing more starts.
	failed string
}

// isSidecar is true for a native sidecar: an init container with
// restartPolicy Always.
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// planInit runs the init containers in order, as the kubelet: each regular
// one to completion before the next; a sidecar only until it has started,
// then it runs beside the others. A regular init container that fails is
// restarted with back-off (the worker's restart rules) unless the pod's
// restartPolicy is Never, which fails the pod. Once the pod is initialized
// it stays so: a sidecar that restarts later holds nothing back, and an app
// container that exists says so after an agent restart. It is pure.
func planInit(pod *corev1.Pod, ctrs map[string]*ctrState, initializedBefore bool) initPlan {
	if initializedBefore {
		return initPlan{initialized: true}
	}
	// An app container that exists was started after the init containers
	// (an agent adopting a running pod learns it so).
	for _, c := range pod.Spec.Containers {
		if cs := ctrs[c.Name]; cs != nil && cs.id != "" {
			return initPlan{initialized: true}
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := ctrs[c.Name]
		switch {
		case cs == nil:
			return initPlan{start: c.Name}
		case isSidecar(c):
			if cs.running || cs.restarts > 0 || cs.last != nil {
				continue // started once: it no longer blocks
			}
			return initPlan{start: c.Name}
		case completed(cs):
			continue
		case cs.done:
			return initPlan{failed: c.Name}
		default:
			return initPlan{start: c.Name} // not started, running, or backing off
		}
	}
	return initPlan{initialized: true}
}

// restartPolicyOf is the restart policy a container of the pod follows: an
// app container the pod's; a sidecar Always; a regular init container
// OnFailure unless the pod's is Never (it never runs again once it
// succeeded).
func restartPolicyOf(pod *corev1.Pod, name string) corev1.RestartPolicy {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.Name != name {
			continue
		}
		switch {
		case isSidecar(c):
			return corev1.RestartPolicyAlways
		case pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			return corev1.RestartPolicyNever
		}
		return corev1.RestartPolicyOnFailure
	}
	return pod.Spec.RestartPolicy
}

// withInit completes a status podStatus rendered from the app containers
// with the init containers, as the kubelet reports them: their statuses (a
// container not started yet waits with PodInitializing), the app containers
// waiting with PodInitializing until the pod is initialized, the Initialized
// condition, and the phase (Pending while initializing, Failed when an init
// container failed under restartPolicy Never). Sidecars must run for the pod
// to be ready. It is pure.
func withInit(st corev1.PodStatus, pod *corev1.Pod, ctrs map[string]*ctrState, plan initPlan) corev1.PodStatus {
	if len(pod.Spec.InitContainers) == 0 {
		return st
	}
	sidecarsRunning := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := ctrs[c.Name]
		if cs == nil {
			cs = &ctrState{name: c.Name, image: c.Image, waiting: "PodInitializing"}
		}
		s := containerStatus(cs)
		if w := s.State.Waiting; w != nil && w.Reason == "ContainerCreating" {
			w.Reason = "PodInitializing" // as the kubelet: not started yet
		}
		if isSidecar(c) {
			sidecarsRunning = sidecarsRunning && cs.running
		} else {
			s.Ready = completed(cs)
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, s)
	}
	// App containers not created yet wait with PodInitializing, as the
	// kubelet reports them (get pods: Init:N/M, then PodInitializing).
	for i := range st.ContainerStatuses {
		if w := st.ContainerStatuses[i].State.Waiting; w != nil && w.Reason == "ContainerCreating" && st.ContainerStatuses[i].ContainerID == "" {
			w.Reason, w.Message = "PodInitializing", ""
		}
	}
	initialized := corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
	if !plan.initialized {
		initialized.Status, initialized.Reason = corev1.ConditionFalse, "ContainersNotInitialized"
		initialized.Message = fmt.Sprintf("containers with incomplete status: [%s]", plan.blocking(pod, ctrs))
		st.Phase = corev1.PodPending
		if plan.failed != "" {
			st.Phase = corev1.PodFailed
		}
	}
	// A pod whose app containers are done completes once its sidecars,
	// stopped then, have stopped.
	if anySidecarRunning(pod, ctrs) && (st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed) {
		st.Phase = corev1.PodRunning
	}
	for i, c := range st.Conditions {
		switch {
		case c.Type == corev1.PodInitialized:
			st.Conditions[i] = initialized
		case (c.Type == corev1.ContainersReady || c.Type == corev1.PodReady) && (!sidecarsRunning || !plan.initialized):
			st.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	return st
}

// blocking names the init containers the pod still waits for.
func (p initPlan) blocking(pod *corev1.Pod, ctrs map[string]*ctrState) string {
	var out string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := ctrs[c.Name]
		if cs != nil && (isSidecar(c) && cs.running || !isSidecar(c) && completed(cs)) {
			continue
		}
		if out != "" {
			out += " "
		}
		out += c.Name
	}
	return out
}

// completed is true for a regular init container that ran to completion.
func completed(cs *ctrState) bool { return cs.done && cs.last != nil && cs.last.Code == 0 }

func anySidecarRunning(pod *corev1.Pod, ctrs map[string]*ctrState) bool {
	for i := range pod.Spec.InitContainers {
		if cs := ctrs[pod.Spec.InitContainers[i].Name]; isSidecar(&pod.Spec.InitContainers[i]) && cs != nil && cs.running {
			return true
		}
	}
	return false
}
