//go:build unix

package scheduler

import (
	"syscall"
	"time"
)

// processCPUTime is the user and system CPU time this process has used, so
// that benchmarks can report a cost that does not depend on how busy the
// machine is.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
