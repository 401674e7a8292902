package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object/printer"
	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

func initPod(policy corev1.RestartPolicy, inits ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: policy, InitContainers: inits,
		Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}
}

func sidecar(name string) corev1.Container {
	always := corev1.ContainerRestartPolicyAlways
	return corev1.Container{Name: name, Image: name + ":1", RestartPolicy: &always}
}

func regular(name string) corev1.Container { return corev1.Container{Name: name, Image: name + ":1"} }

// States of one container, as the worker keeps them.
var (
	ti0    = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	exited = func(code int) *runtime.ExitStatus {
		return &runtime.ExitStatus{Code: code, Reason: runtime.ExitReason(code, false), StartedAt: ti0, FinishedAt: ti0}
	}
	notYet    = func(n string) *ctrState { return &ctrState{name: n} }
	running   = func(n string) *ctrState { return &ctrState{name: n, id: n + "-0", running: true, started: ti0} }
	succeeded = func(n string) *ctrState {
		return &ctrState{name: n, id: n + "-0", done: true, last: exited(0)}
	}
	failedFor = func(n string) *ctrState { return &ctrState{name: n, id: n + "-0", done: true, last: exited(1)} }
	crashLoop = func(n string) *ctrState {
		return &ctrState{name: n, id: n + "-2", restarts: 2, last: exited(1), waiting: "CrashLoopBackOff", retryAt: ti0.Add(time.Minute)}
	}
)

func states(cs ...*ctrState) map[string]*ctrState {
	m := map[string]*ctrState{"app": notYet("app")}
	for _, c := range cs {
		m[c.name] = c
	}
	return m
}

func TestPlanInit(t *testing.T) {
	always, never := corev1.RestartPolicyAlways, corev1.RestartPolicyNever
	two := initPod(always, regular("a"), regular("b"))
	for _, tc := range []struct {
		name        string
		pod         *corev1.Pod
		ctrs        map[string]*ctrState
		before      bool
		want        initPlan
		wantStatus  string // the kubectl STATUS the reported status prints
		wantPhase   corev1.PodPhase
		wantInitCnd corev1.ConditionStatus
	}{
		{name: "no init containers", pod: initPod(always), ctrs: states(), want: initPlan{initialized: true}, wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionTrue},
		{name: "first not started", pod: two, ctrs: states(), want: initPlan{start: "a"}, wantStatus: "Init:0/2", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionFalse},
		{name: "first created, not started", pod: two, ctrs: states(notYet("a"), notYet("b")), want: initPlan{start: "a"}, wantStatus: "Init:0/2", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionFalse},
		{name: "first running: wait for it", pod: two, ctrs: states(running("a"), notYet("b")), want: initPlan{start: "a"}, wantStatus: "Init:0/2", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionFalse},
		{name: "first done, second next", pod: two, ctrs: states(succeeded("a"), notYet("b")), want: initPlan{start: "b"}, wantStatus: "Init:1/2", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionFalse},
		{name: "second running", pod: two, ctrs: states(succeeded("a"), running("b")), want: initPlan{start: "b"}, wantStatus: "Init:1/2", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionFalse},
		{name: "all done: apps start", pod: two, ctrs: states(succeeded("a"), succeeded("b")), want: initPlan{initialized: true}, wantStatus: "PodInitializing", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionTrue},
		{name: "failing under Always: back-off", pod: two, ctrs: states(crashLoop("a"), notYet("b")), want: initPlan{start: "a"}, wantStatus: "Init:CrashLoopBackOff", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionFalse},
		{name: "failed under Never: the pod fails", pod: initPod(never, regular("a"), regular("b")), ctrs: states(failedFor("a"), notYet("b")), want: initPlan{failed: "a"}, wantStatus: "Init:Error", wantPhase: corev1.PodFailed, wantInitCnd: corev1.ConditionFalse},
		{name: "sidecar not started blocks the next", pod: initPod(always, sidecar("proxy"), regular("b")), ctrs: states(), want: initPlan{start: "proxy"}, wantStatus: "Init:0/2", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionFalse},
		{name: "started sidecar lets the next run", pod: initPod(always, sidecar("proxy"), regular("b")), ctrs: states(running("proxy"), notYet("b")), want: initPlan{start: "b"}, wantStatus: "Init:1/2", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionFalse},
		{name: "crashed sidecar does not block", pod: initPod(always, sidecar("proxy"), regular("b")), ctrs: states(crashLoop("proxy"), succeeded("b")), want: initPlan{initialized: true}, wantStatus: "PodInitializing", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionTrue},
		{name: "an app container exists: initialized (an adopted pod)", pod: two, ctrs: map[string]*ctrState{"a": notYet("a"), "b": notYet("b"), "app": running("app")},
			want: initPlan{initialized: true}, wantPhase: corev1.PodRunning, wantInitCnd: corev1.ConditionTrue},
		{name: "apps done, sidecar still stopping: Running", pod: initPod(never, sidecar("proxy")), ctrs: map[string]*ctrState{"proxy": running("proxy"), "app": succeeded("app")},
			want: initPlan{initialized: true}, wantPhase: corev1.PodRunning, wantInitCnd: corev1.ConditionTrue},
		{name: "apps done, sidecar stopped: Succeeded", pod: initPod(never, sidecar("proxy")), ctrs: map[string]*ctrState{"proxy": failedFor("proxy"), "app": succeeded("app")},
			want: initPlan{initialized: true}, wantStatus: "Completed", wantPhase: corev1.PodSucceeded, wantInitCnd: corev1.ConditionTrue},
		{name: "initialized stays so", pod: two, ctrs: states(notYet("a"), notYet("b")), before: true, want: initPlan{initialized: true}, wantStatus: "PodInitializing", wantPhase: corev1.PodPending, wantInitCnd: corev1.ConditionTrue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planInit(tc.pod, tc.ctrs, tc.before)
			if got != tc.want {
				t.Fatalf("planInit = %+v, want %+v", got, tc.want)
			}
			st := withInit(podStatus(tc.pod, []*ctrState{tc.ctrs["app"]}, "", "", ti0), tc.pod, tc.ctrs, got)
			if st.Phase != tc.wantPhase {
				t.Errorf("phase %s, want %s", st.Phase, tc.wantPhase)
			}
			if len(st.InitContainerStatuses) != len(tc.pod.Spec.InitContainers) {
				t.Fatalf("%d init container statuses, want %d", len(st.InitContainerStatuses), len(tc.pod.Spec.InitContainers))
			}
			for _, c := range st.Conditions {
				if c.Type == corev1.PodInitialized && c.Status != tc.wantInitCnd {
					t.Errorf("Initialized %s, want %s (%s)", c.Status, tc.wantInitCnd, c.Message)
				}
			}
			if tc.wantStatus != "" {
				if got := kubectlStatus(t, tc.pod, st); got != tc.wantStatus {
					t.Errorf("STATUS %s, want %s", got, tc.wantStatus)
				}
			}
		})
	}
}

// kubectlStatus is the STATUS column get pods prints for the pod with st.
func kubectlStatus(t *testing.T, pod *corev1.Pod, st corev1.PodStatus) string {
	p := pod.DeepCopy()
	p.Status = st
	cells, err := printer.Cells(p, ti0)
	if err != nil {
		t.Fatal(err)
	}
	return cells[2]
}

func TestRestartPolicyOf(t *testing.T) {
	for _, tc := range []struct {
		podPolicy corev1.RestartPolicy
		name      string
		want      corev1.RestartPolicy
	}{
		{corev1.RestartPolicyAlways, "app", corev1.RestartPolicyAlways},
		{corev1.RestartPolicyNever, "app", corev1.RestartPolicyNever},
		{corev1.RestartPolicyAlways, "init", corev1.RestartPolicyOnFailure},
		{corev1.RestartPolicyOnFailure, "init", corev1.RestartPolicyOnFailure},
		{corev1.RestartPolicyNever, "init", corev1.RestartPolicyNever},
		{corev1.RestartPolicyNever, "proxy", corev1.RestartPolicyAlways},
	} {
		pod := initPod(tc.podPolicy, regular("init"), sidecar("proxy"))
		if got := restartPolicyOf(pod, tc.name); got != tc.want {
			t.Errorf("pod %s, container %s: %s, want %s", tc.podPolicy, tc.name, got, tc.want)
		}
	}
}

func TestLogTail(t *testing.T) {
	var long strings.Builder
	for i := 0; i < 100; i++ {
		long.WriteString("line " + strings.Repeat("x", i%3) + "\n")
	}
	lines := strings.Split(strings.TrimSuffix(long.String(), "\n"), "\n")
	for _, tc := range []struct {
		name, log    string
		lines, bytes int
		want         string
	}{
		{name: "empty", log: "", lines: 80, bytes: 2048, want: ""},
		{name: "short", log: "a\nb\n", lines: 80, bytes: 2048, want: "a\nb\n"},
		{name: "no final newline", log: "a\nb", lines: 80, bytes: 2048, want: "a\nb"},
		{name: "last lines", log: "a\nb\nc\nd\n", lines: 2, bytes: 2048, want: "c\nd\n"},
		{name: "80 of 100 lines", log: long.String(), lines: 80, bytes: 1 << 20, want: strings.Join(lines[20:], "\n") + "\n"},
		{name: "bytes cap the lines", log: "aaaa\nbbbb\n", lines: 80, bytes: 6, want: "\nbbbb\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := logTail([]byte(tc.log), tc.lines, tc.bytes); got != tc.want {
				t.Errorf("logTail = %q, want %q", got, tc.want)
			}
		})
	}
}
