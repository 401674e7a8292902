package probe

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func probeWith(success, failure int32) *corev1.Probe {
	return &corev1.Probe{SuccessThreshold: success, FailureThreshold: failure}
}

// step is one probe result fed to the state: "R+" a readiness success, "L-" a
// liveness failure, "S+" a startup success.
func parseStep(t *testing.T, s string) (Kind, bool) {
	t.Helper()
	kinds := map[byte]Kind{'S': Startup, 'L': Liveness, 'R': Readiness}
	k, ok := kinds[s[0]]
	if !ok || len(s) != 2 || (s[1] != '+' && s[1] != '-') {
		t.Fatalf("bad step %q", s)
	}
	return k, s[1] == '+'
}

// snapshot says after each step: started (s), ready (r), which probes are
// active, and a kill (K).
func snapshot(st *State, kill bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "s%d r%d ", b2i(st.Started()), b2i(st.Ready()))
	for _, k := range Kinds {
		if st.Active(k) {
			b.WriteString(k.String()[:1])
		} else {
			b.WriteString(".")
		}
	}
	if kill {
		b.WriteString(" K")
	}
	return b.String()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestStateMachine(t *testing.T) {
	tests := []struct {
		name      string
		container corev1.Container
		steps     []string
		want      []string // the snapshot after NewState, then after each step
	}{
		{
			name:  "no probes: started and ready at once, nothing runs",
			steps: nil,
			want:  []string{"s1 r1 ..."},
		},
		{
			name:      "readiness: not ready until its first success",
			container: corev1.Container{ReadinessProbe: probeWith(0, 0)},
			steps:     []string{"R+", "R-", "R-", "R-", "R+"},
			want:      []string{"s1 r0 ..R", "s1 r1 ..R", "s1 r1 ..R", "s1 r1 ..R", "s1 r0 ..R", "s1 r1 ..R"},
		},
		{
			name:      "readiness thresholds: 2 successes to become ready, 2 failures to lose it; a break in the run starts over",
			container: corev1.Container{ReadinessProbe: probeWith(2, 2)},
			steps:     []string{"R+", "R-", "R+", "R+", "R-", "R+", "R-", "R-"},
			want:      []string{"s1 r0 ..R", "s1 r0 ..R", "s1 r0 ..R", "s1 r0 ..R", "s1 r1 ..R", "s1 r1 ..R", "s1 r1 ..R", "s1 r1 ..R", "s1 r0 ..R"},
		},
		{
			name:      "readiness never kills, however long it fails",
			container: corev1.Container{ReadinessProbe: probeWith(1, 1)},
			steps:     []string{"R-", "R-", "R-", "R-"},
			want:      []string{"s1 r0 ..R", "s1 r0 ..R", "s1 r0 ..R", "s1 r0 ..R", "s1 r0 ..R"},
		},
		{
			name:      "liveness: alive from the start, killed at the third failure in a row (default threshold)",
			container: corev1.Container{LivenessProbe: probeWith(0, 0)},
			steps:     []string{"L-", "L-", "L+", "L-", "L-", "L-", "L-"},
			want:      []string{"s1 r1 .L.", "s1 r1 .L.", "s1 r1 .L.", "s1 r1 .L.", "s1 r1 .L.", "s1 r1 .L.", "s1 r0 ... K", "s1 r0 ..."},
		},
		{
			name:      "startup gates liveness and readiness; their results before it succeeds are ignored",
			container: corev1.Container{StartupProbe: probeWith(1, 3), LivenessProbe: probeWith(1, 1), ReadinessProbe: probeWith(1, 1)},
			steps:     []string{"L-", "R+", "S-", "S+", "R+", "L-"},
			want:      []string{"s0 r0 S..", "s0 r0 S..", "s0 r0 S..", "s0 r0 S..", "s1 r0 .LR", "s1 r1 .LR", "s1 r0 ... K"},
		},
		{
			name:      "startup failing failureThreshold times kills; liveness never ran",
			container: corev1.Container{StartupProbe: probeWith(1, 2), LivenessProbe: probeWith(1, 1)},
			steps:     []string{"S-", "S-", "S+"},
			want:      []string{"s0 r0 S..", "s0 r0 S..", "s0 r0 ... K", "s0 r0 ..."},
		},
		{
			name:      "without a readiness probe a started container is ready",
			container: corev1.Container{StartupProbe: probeWith(1, 3)},
			steps:     []string{"S+"},
			want:      []string{"s0 r0 S..", "s1 r1 ..."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := NewState(&tt.container)
			got := []string{snapshot(st, false)}
			for _, s := range tt.steps {
				k, ok := parseStep(t, s)
				got = append(got, snapshot(st, st.Observe(k, ok)))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("steps %v:\n got %q\nwant %q", tt.steps, got, tt.want)
			}
		})
	}
}

func TestTimingDefaults(t *testing.T) {
	grace := int64(7)
	tests := []struct {
		probe *corev1.Probe
		want  string
	}{
		{&corev1.Probe{}, "0s 10s 1s 1 3 <nil>"},
		{&corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 1, TimeoutSeconds: 2, SuccessThreshold: 2, FailureThreshold: 1, TerminationGracePeriodSeconds: &grace},
			"5s 1s 2s 2 1 7s"},
	}
	for _, tt := range tests {
		tm := TimingOf(tt.probe)
		g := "<nil>"
		if tm.Grace != nil {
			g = tm.Grace.String()
		}
		got := fmt.Sprintf("%s %s %s %d %d %s", tm.InitialDelay, tm.Period, tm.Timeout, tm.Success, tm.Failure, g)
		if got != tt.want {
			t.Errorf("TimingOf(%+v) = %s, want %s", tt.probe, got, tt.want)
		}
	}
}
