package runtime_test

import (
	"slices"
	"testing"

	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestProcessArgs(t *testing.T) {
	entrypoint, cmd := []string{"/entry", "-v"}, []string{"serve", "--port=80"}
	for _, tc := range []struct {
		name                string
		entrypoint, cmd     []string
		command, args, want []string
	}{
		{name: "image defaults", entrypoint: entrypoint, cmd: cmd, want: []string{"/entry", "-v", "serve", "--port=80"}},
		{name: "command replaces entrypoint and cmd", entrypoint: entrypoint, cmd: cmd, command: []string{"sh"}, want: []string{"sh"}},
		{name: "command and args", entrypoint: entrypoint, cmd: cmd, command: []string{"sh", "-c"}, args: []string{"echo hi"}, want: []string{"sh", "-c", "echo hi"}},
		{name: "args replace cmd only", entrypoint: entrypoint, cmd: cmd, args: []string{"check"}, want: []string{"/entry", "-v", "check"}},
		{name: "args without entrypoint", cmd: cmd, args: []string{"echo", "x"}, want: []string{"echo", "x"}},
		{name: "cmd only", cmd: []string{"sh"}, want: []string{"sh"}},
		{name: "nothing to run", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runtime.ProcessArgs(tc.entrypoint, tc.cmd, tc.command, tc.args); !slices.Equal(got, tc.want) {
				t.Errorf("ProcessArgs = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestResourcesFor(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name string
		in   corev1.ResourceRequirements
		want runtime.Resources
	}{
		{name: "best effort", want: runtime.Resources{CPUShares: 2}},
		{name: "requests only",
			in:   corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("250m"), corev1.ResourceMemory: q("64Mi")}},
			want: runtime.Resources{CPUShares: 256}},
		{name: "limits only count as requests",
			in:   corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("32Mi")}},
			want: runtime.Resources{MemoryLimitBytes: 32 << 20, CPUShares: 2048, CPUQuota: 200_000, CPUPeriod: 100_000}},
		{name: "request and limit",
			in: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: q("100m")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("1Gi")}},
			want: runtime.Resources{MemoryLimitBytes: 1 << 30, CPUShares: 102, CPUQuota: 50_000, CPUPeriod: 100_000}},
		{name: "tiny values are raised to the kernel's minimums",
			in:   corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("1m")}},
			want: runtime.Resources{CPUShares: 2, CPUQuota: 1000, CPUPeriod: 100_000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runtime.ResourcesFor(tc.in); got != tc.want {
				t.Errorf("ResourcesFor = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestExitReason(t *testing.T) {
	for _, tc := range []struct {
		code int
		oom  bool
		want string
	}{
		{0, false, runtime.ReasonCompleted},
		{1, false, runtime.ReasonError},
		{137, false, runtime.ReasonError},
		{137, true, runtime.ReasonOOMKilled},
		{0, true, runtime.ReasonOOMKilled},
	} {
		if got := runtime.ExitReason(tc.code, tc.oom); got != tc.want {
			t.Errorf("ExitReason(%d, %v) = %q, want %q", tc.code, tc.oom, got, tc.want)
		}
	}
}
