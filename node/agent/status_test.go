package agent

import (
	"testing"
	"time"

	"github.com/wake-run/wake/node/probe"
	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

func TestPodStatus(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{}
	exit := func(code int, reason string) *runtime.ExitStatus {
		return &runtime.ExitStatus{Code: code, Reason: reason, StartedAt: t0, FinishedAt: t0.Add(time.Second)}
	}
	cases := []struct {
		name       string
		ctrs       []*ctrState
		phase      corev1.PodPhase
		ready      corev1.ConditionStatus
		state      string // running, waiting:<reason>, terminated:<reason>
		restarts   int32
		lastExit   int32
		hasLastErr bool
	}{
		{"creating", []*ctrState{{name: "c"}}, corev1.PodPending, corev1.ConditionFalse, "waiting:ContainerCreating", 0, 0, false},
		{"running", []*ctrState{{name: "c", id: "x", running: true, started: t0}}, corev1.PodRunning, corev1.ConditionTrue, "running", 0, 0, false},
		{"crash looping", []*ctrState{{name: "c", id: "x", restarts: 3, last: exit(3, "Error"), waiting: "CrashLoopBackOff"}},
			corev1.PodRunning, corev1.ConditionFalse, "waiting:CrashLoopBackOff", 3, 3, true},
		{"restarted after OOM", []*ctrState{{name: "c", id: "x", running: true, restarts: 1, last: exit(137, "OOMKilled")}},
			corev1.PodRunning, corev1.ConditionTrue, "running", 1, 137, true},
		{"completed, never restarted", []*ctrState{{name: "c", id: "x", done: true, last: exit(0, "Completed")}},
			corev1.PodSucceeded, corev1.ConditionFalse, "terminated:Completed", 0, 0, false},
		{"failed", []*ctrState{{name: "c", id: "x", done: true, last: exit(1, "Error")}},
			corev1.PodFailed, corev1.ConditionFalse, "terminated:Error", 0, 0, false},
		{"image pull back-off", []*ctrState{{name: "c", waiting: "ImagePullBackOff", waitingMsg: "pull x: refused"}},
			corev1.PodPending, corev1.ConditionFalse, "waiting:ImagePullBackOff", 0, 0, false},
	}
	// With probes, a running container is started and ready only as they say.
	readiness := &corev1.Container{ReadinessProbe: &corev1.Probe{}}
	passed := probe.NewState(readiness)
	passed.Observe(probe.Readiness, true)
	probed := []struct {
		name           string
		ctr            *ctrState
		started, ready bool
		summary        string
	}{
		{"readiness not passed yet", &ctrState{name: "c", id: "x", running: true, probe: probe.NewState(readiness)}, true, false, "Running; c: not ready"},
		{"readiness passed", &ctrState{name: "c", id: "x", running: true, probe: passed}, true, true, "Running"},
		{"startup probe not passed", &ctrState{name: "c", id: "x", running: true, probe: probe.NewState(&corev1.Container{StartupProbe: &corev1.Probe{}})},
			false, false, "Running; c: not ready"},
		{"postStart hook running", &ctrState{name: "c", id: "x", running: true, hooking: true}, false, false, "Running; c: not ready"},
	}
	for _, tc := range probed {
		t.Run(tc.name, func(t *testing.T) {
			st := podStatus(pod, []*ctrState{tc.ctr}, "10.0.0.2", "10.0.0.1", t0)
			cs := st.ContainerStatuses[0]
			want := corev1.ConditionFalse
			if tc.ready {
				want = corev1.ConditionTrue
			}
			for _, c := range st.Conditions {
				if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status != want {
					t.Errorf("%s %s, want %s", c.Type, c.Status, want)
				}
			}
			if *cs.Started != tc.started || cs.Ready != tc.ready || st.Phase != corev1.PodRunning || cs.State.Running == nil {
				t.Errorf("started %v ready %v phase %s, want started %v ready %v, Running", *cs.Started, cs.Ready, st.Phase, tc.started, tc.ready)
			}
			if got := summary(st); got != tc.summary {
				t.Errorf("summary %q, want %q", got, tc.summary)
			}
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := podStatus(pod, tc.ctrs, "10.0.0.2", "10.0.0.1", t0)
			if st.Phase != tc.phase {
				t.Errorf("phase %s, want %s", st.Phase, tc.phase)
			}
			for _, c := range st.Conditions {
				if c.Type == corev1.PodReady && c.Status != tc.ready {
					t.Errorf("Ready %s, want %s", c.Status, tc.ready)
				}
			}
			cs := st.ContainerStatuses[0]
			var state string
			switch {
			case cs.State.Running != nil:
				state = "running"
			case cs.State.Waiting != nil:
				state = "waiting:" + cs.State.Waiting.Reason
			case cs.State.Terminated != nil:
				state = "terminated:" + cs.State.Terminated.Reason
			}
			if state != tc.state || cs.RestartCount != tc.restarts {
				t.Errorf("state %s restarts %d, want %s %d", state, cs.RestartCount, tc.state, tc.restarts)
			}
			last := cs.LastTerminationState.Terminated
			if (last != nil) != tc.hasLastErr || (last != nil && last.ExitCode != tc.lastExit) {
				t.Errorf("last termination %+v, want exit %d: %v", last, tc.lastExit, tc.hasLastErr)
			}
			if st.PodIP != "10.0.0.2" || st.HostIP != "10.0.0.1" || st.StartTime == nil {
				t.Errorf("addresses %s %s start %v", st.PodIP, st.HostIP, st.StartTime)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	var b time.Duration
	var got []time.Duration
	for i := 0; i < 7; i++ {
		b = nextBackoff(b)
		got = append(got, b)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("back-off sequence %v, want %v", got, want)
		}
	}
}
