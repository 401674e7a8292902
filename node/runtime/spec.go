package runtime

import (
	corev1 "k8s.io/api/core/v1"
)

// ProcessArgs returns the argv of a container's process with Kubernetes'
// rules: a command replaces the image's entrypoint and drops its cmd; args
// replace the image's cmd; with neither, the image's entrypoint and cmd run.
// The result is empty when there is nothing to run.
func ProcessArgs(entrypoint, cmd, command, args []string) []string {
	var argv []string
	switch {
	case len(command) > 0:
		argv = append(argv, command...)
		argv = append(argv, args...)
	case len(args) > 0:
		argv = append(argv, entrypoint...)
		argv = append(argv, args...)
	default:
		argv = append(argv, entrypoint...)
		argv = append(argv, cmd...)
	}
	return argv
}

// CPU settings with the kubelet's bounds.
const (
	// DefaultCPUPeriod is the CFS period, in microseconds, quotas are
	// expressed against.
	DefaultCPUPeriod = 100_000
	minCPUShares     = 2
	maxCPUShares     = 262_144
	minCPUQuota      = 1_000
)

// ResourcesFor translates a container's requests and limits into cgroup
// settings as the kubelet does: the memory limit is the limit; CPU shares
// are the CPU request (or the limit when no request is given) at 1024 per
// core, at least 2; the CFS quota is the CPU limit over a 100 ms period, at
// least 1 ms. A container without a CPU request gets the minimum shares.
func ResourcesFor(r corev1.ResourceRequirements) Resources {
	var res Resources
	if mem, ok := r.Limits[corev1.ResourceMemory]; ok {
		res.MemoryLimitBytes = mem.Value()
	}
	cpuRequest, ok := r.Requests[corev1.ResourceCPU]
	if !ok {
		cpuRequest, ok = r.Limits[corev1.ResourceCPU]
	}
	var milli int64
	if ok {
		milli = cpuRequest.MilliValue()
	}
	res.CPUShares = uint64(min(max(milli*1024/1000, minCPUShares), maxCPUShares))
	if limit, ok := r.Limits[corev1.ResourceCPU]; ok && limit.MilliValue() > 0 {
		res.CPUPeriod = DefaultCPUPeriod
		res.CPUQuota = max(limit.MilliValue()*DefaultCPUPeriod/1000, minCPUQuota)
	}
	return res
}

// ExitReason is the Kubernetes reason for a terminated container.
func ExitReason(code int, oomKilled bool) string {
	switch {
	case oomKilled:
		return ReasonOOMKilled
	case code == 0:
		return ReasonCompleted
	}
	return ReasonError
}
