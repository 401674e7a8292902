package printer

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func running(ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Ready: ready, RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Minute)}},
	}
}

func waiting(reason string, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		RestartCount: restarts,
		State:        corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}},
	}
}

func terminated(reason string, exitCode, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: reason, ExitCode: exitCode, Signal: signal, FinishedAt: ago(time.Minute),
	}}}
}

func lastTerminated(cs corev1.ContainerStatus, finished time.Duration) corev1.ContainerStatus {
	cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", FinishedAt: ago(finished)}
	return cs
}

// testPod builds a pod with the given containers (named c0, c1, ...).
func testPod(phase corev1.PodPhase, statuses ...corev1.ContainerStatus) *corev1.Pod {
	p := &corev1.Pod{TypeMeta: podType, ObjectMeta: objMeta("p", "default", time.Hour)}
	p.Status.Phase = phase
	for i, cs := range statuses {
		name := "c" + string(rune('0'+i))
		cs.Name = name
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: name})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, cs)
	}
	return p
}

// withInit adds init containers (named i0, i1, ...) with the given statuses;
// sidecar marks which of them have restartPolicy Always.
func withInit(p *corev1.Pod, sidecar []bool, statuses ...corev1.ContainerStatus) *corev1.Pod {
	for i, cs := range statuses {
		name := "i" + string(rune('0'+i))
		cs.Name = name
		c := corev1.Container{Name: name}
		if i < len(sidecar) && sidecar[i] {
			c.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, c)
		p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, cs)
	}
	return p
}

func withCondition(p *corev1.Pod, t corev1.PodConditionType, s corev1.ConditionStatus, reason string) *corev1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: s, Reason: reason})
	return p
}

func deleted(p *corev1.Pod) *corev1.Pod {
	ts := ago(10 * time.Second)
	p.DeletionTimestamp = &ts
	return p
}

func TestPodStatusColumns(t *testing.T) {
	started := func(cs corev1.ContainerStatus) corev1.ContainerStatus {
		cs.Started = ptr(true)
		return cs
	}
	tests := []struct {
		name                    string
		pod                     *corev1.Pod
		ready, status, restarts string
	}{
		{"running", testPod(corev1.PodRunning, running(true, 0)), "1/1", "Running", "0"},
		{"no status at all is Pending", &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}, "0/2", "Pending", "0"},
		{"phase only", testPod(corev1.PodPending), "0/0", "Pending", "0"},
		{"ContainerCreating", testPod(corev1.PodPending, waiting("ContainerCreating", 0)), "0/1", "ContainerCreating", "0"},
		{"CrashLoopBackOff with last restart time", testPod(corev1.PodRunning, lastTerminated(waiting("CrashLoopBackOff", 5), 2*time.Minute)), "0/1", "CrashLoopBackOff", "5 (2m ago)"},
		{"ImagePullBackOff", testPod(corev1.PodPending, waiting("ImagePullBackOff", 0)), "0/1", "ImagePullBackOff", "0"},
		{"OOMKilled", testPod(corev1.PodRunning, terminated("OOMKilled", 137, 0)), "0/1", "OOMKilled", "0"},
		{"restarts without known time", testPod(corev1.PodRunning, running(true, 3)), "1/1", "Running", "3"},
		{"restarted after OOMKill", testPod(corev1.PodRunning, lastTerminated(running(true, 2), 90*time.Second)), "1/1", "Running", "2 (90s ago)"},
		{"restarts summed over containers", testPod(corev1.PodRunning, lastTerminated(running(true, 2), 10*time.Minute), lastTerminated(running(false, 1), 3*time.Minute)), "1/2", "Running", "3 (3m ago)"},
		{"Completed", testPod(corev1.PodSucceeded, terminated("Completed", 0, 0)), "0/1", "Completed", "0"},
		{"Error", testPod(corev1.PodFailed, terminated("Error", 1, 0)), "0/1", "Error", "0"},
		{"signal without reason", testPod(corev1.PodFailed, terminated("", 0, 9)), "0/1", "Signal:9", "0"},
		{"exit code without reason", testPod(corev1.PodFailed, terminated("", 3, 0)), "0/1", "ExitCode:3", "0"},
		{"completed container next to a running one, pod ready", withCondition(testPod(corev1.PodRunning, terminated("Completed", 0, 0), running(true, 0)), corev1.PodReady, corev1.ConditionTrue, ""), "1/2", "Running", "0"},
		{"completed container next to a running one, pod not ready", testPod(corev1.PodRunning, running(true, 0), terminated("Completed", 0, 0)), "1/2", "NotReady", "0"},
		{"status reason wins over phase", func() *corev1.Pod {
			p := testPod(corev1.PodFailed)
			p.Status.Reason = "Evicted"
			return p
		}(), "0/0", "Evicted", "0"},
		{"SchedulingGated", withCondition(testPod(corev1.PodPending, corev1.ContainerStatus{}), corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonSchedulingGated), "0/1", "SchedulingGated", "0"},
		{"Terminating", deleted(testPod(corev1.PodRunning, running(true, 0))), "1/1", "Terminating", "0"},
		{"deleted but finished keeps its status", deleted(testPod(corev1.PodSucceeded, terminated("Completed", 0, 0))), "0/1", "Completed", "0"},
		{"deleted on a lost node is Unknown", func() *corev1.Pod {
			p := deleted(testPod(corev1.PodRunning, running(true, 0)))
			p.Status.Reason = "NodeLost"
			return p
		}(), "1/1", "Unknown", "0"},
		{"init container running", withInit(testPod(corev1.PodPending, waiting("PodInitializing", 0)), nil, running(false, 0)), "0/1", "Init:0/1", "0"},
		{"second init container running", withInit(testPod(corev1.PodPending, waiting("PodInitializing", 0)), nil, terminated("Completed", 0, 0), running(false, 0)), "0/1", "Init:1/2", "0"},
		{"init container crash looping", withInit(testPod(corev1.PodPending, waiting("PodInitializing", 0)), nil, lastTerminated(waiting("CrashLoopBackOff", 4), 30*time.Second)), "0/1", "Init:CrashLoopBackOff", "4 (30s ago)"},
		{"init container failed", withInit(testPod(corev1.PodPending, waiting("PodInitializing", 0)), nil, terminated("Error", 1, 0)), "0/1", "Init:Error", "0"},
		{"init container exit code", withInit(testPod(corev1.PodPending, waiting("PodInitializing", 0)), nil, terminated("", 2, 0)), "0/1", "Init:ExitCode:2", "0"},
		{"init container signal", withInit(testPod(corev1.PodPending, waiting("PodInitializing", 0)), nil, terminated("", 143, 15)), "0/1", "Init:Signal:15", "0"},
		{"init done, containers being created", withCondition(withInit(testPod(corev1.PodPending, waiting("PodInitializing", 0)), nil, terminated("Completed", 0, 0)), corev1.PodInitialized, corev1.ConditionTrue, ""), "0/1", "PodInitializing", "0"},
		{"init done", withInit(testPod(corev1.PodRunning, running(true, 0)), nil, terminated("Completed", 0, 0)), "1/1", "Running", "0"},
		{"sidecar counts as a container", withCondition(withInit(testPod(corev1.PodRunning, running(true, 1)), []bool{true}, started(running(true, 2))), corev1.PodInitialized, corev1.ConditionTrue, ""), "2/2", "Running", "3"},
		{"sidecar starting blocks init", withInit(testPod(corev1.PodPending, waiting("PodInitializing", 0)), []bool{true}, running(false, 0)), "0/2", "Init:0/1", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarizePod(tt.pod, now)
			want := podSummary{ready: tt.ready, status: tt.status, restarts: tt.restarts}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestPodTableUsesComputedStatus(t *testing.T) {
	oom := testPod(corev1.PodRunning, lastTerminated(terminated("OOMKilled", 137, 0), 4*time.Minute))
	oom.Name = "oom"
	oom.Status.ContainerStatuses[0].RestartCount = 7
	initPod := withInit(testPod(corev1.PodPending, waiting("PodInitializing", 0)), nil, running(false, 0))
	initPod.Name = "init"
	done := testPod(corev1.PodSucceeded, terminated("Completed", 0, 0))
	done.Name = "job-x7k2p"
	gone := deleted(testPod(corev1.PodRunning, running(true, 0)))
	gone.Name = "gone"
	gone.DeletionGracePeriodSeconds = ptr(int64(30))
	gone.ObjectMeta.DeletionTimestamp = &metav1.Time{Time: now}

	got := print(t, []runtime.Object{oom, initPod, done, gone}, Options{})
	want := text(
		"NAME        READY   STATUS        RESTARTS     AGE",
		"oom         0/1     OOMKilled     7 (4m ago)   60m",
		"init        0/1     Init:0/1      0            60m",
		"job-x7k2p   0/1     Completed     0            60m",
		"gone        1/1     Terminating   0            60m",
	)
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
