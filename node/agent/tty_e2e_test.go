package agent_test

import (
	"strings"
	"testing"
	"time"
)

// TestTTYKeepsAShellWaiting runs a shell with a terminal (tty: true, as in a
// `kubectl run -it` debug pod): it waits for input instead of reading end of
// file and exiting, its prompt reaches the log, and its standard input is a
// terminal. The same shell without a terminal exits at once.
func TestTTYKeepsAShellWaiting(t *testing.T) {
	cl := startClusterWith(t, 0, "node-t", "10.66.17.0/24", "wke2et")
	importDemo(t, cl)
	cl.apply(`apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: sh, image: busybox:1.35, command: [sh], stdin: true, tty: true}
---
apiVersion: v1
kind: Pod
metadata: {name: no-tty}
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  containers:
  - {name: sh, image: busybox:1.35, command: [sh]}
`)
	eventually(t, "the shell without a terminal exits", 60*time.Second, func() bool {
		p := cl.pod("no-tty")
		return p != nil && p.Status.Phase == "Succeeded"
	})
	eventually(t, "the shell with a terminal running", 60*time.Second, func() bool { return running(cl.pod("shell")) })
	time.Sleep(2 * time.Second) // it would have exited by now without one
	p := cl.pod("shell")
	if !running(p) || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("the shell with a terminal did not keep running: %+v", p.Status.ContainerStatuses)
	}
	var logs string
	eventually(t, "the prompt in the log", 10*time.Second, func() bool {
		logs, _, _ = cl.wake("", "logs", "shell")
		return strings.Contains(logs, "/ # ")
	})
	// The shell's own standard input (its pid 1) is the terminal.
	out, _, err := cl.wake("", "exec", "shell", "--", "sh", "-c", "readlink /proc/1/fd/0")
	if err != nil || !strings.HasPrefix(out, "/dev/pts/") {
		t.Errorf("pid 1's stdin is %q (%v), want a /dev/pts terminal", out, err)
	}
}
