package agent_test

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/cli"
	corev1 "k8s.io/api/core/v1"
)

const podSpecPods = `apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: d, emptyDir: {}}]
  initContainers:
  - {name: first, image: busybox:1.35, volumeMounts: [{name: d, mountPath: /d}], command: [sh, -c, "sleep 1; echo first >> /d/order"]}
  - {name: second, image: busybox:1.35, volumeMounts: [{name: d, mountPath: /d}], command: [sh, -c, "echo second >> /d/order"]}
  containers:
  - {name: app, image: busybox:1.35, volumeMounts: [{name: d, mountPath: /d}], command: [sh, -c, "echo app >> /d/order; sleep 3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: init-crashloop}
spec:
  terminationGracePeriodSeconds: 1
  initContainers: [{name: fails, image: busybox:1.35, command: [sh, -c, "exit 1"]}]
  containers: [{name: app, image: busybox:1.35, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: init-never}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  initContainers: [{name: fails, image: busybox:1.35, command: [sh, -c, "echo broken >/dev/termination-log; exit 4"]}]
  containers: [{name: app, image: busybox:1.35, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: with-sidecar}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: d, emptyDir: {}}]
  initContainers:
  - {name: proxy, image: busybox:1.35, restartPolicy: Always, volumeMounts: [{name: d, mountPath: /d}], command: [sh, -c, "echo proxy >> /d/order; sleep 3600"]}
  - {name: setup, image: busybox:1.35, volumeMounts: [{name: d, mountPath: /d}], command: [sh, -c, "echo setup >> /d/order"]}
  containers:
  - {name: app, image: busybox:1.35, volumeMounts: [{name: d, mountPath: /d}], command: [sh, -c, "echo app >> /d/order; sleep 3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000]}
  volumes: [{name: d, emptyDir: {}}]
  containers:
  - name: app
    image: busybox:1.35
    volumeMounts: [{name: d, mountPath: /d}]
    securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    command: [sh, -c, "touch /d/f; sleep 3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsNonRoot: true}
  containers: [{name: app, image: busybox:1.35, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: messages}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - {name: file, image: busybox:1.35, terminationMessagePath: /tmp/bye, command: [sh, -c, "echo -n done > /tmp/bye"]}
  - {name: logs, image: busybox:1.35, terminationMessagePolicy: FallbackToLogsOnError, command: [sh, -c, "echo line1; echo oops >&2; exit 2"]}
---
apiVersion: v1
kind: Pod
metadata: {name: shared-pid}
spec:
  shareProcessNamespace: true
  terminationGracePeriodSeconds: 1
  containers:
  - {name: a, image: busybox:1.35, command: [sleep, "3601"]}
  - {name: b, image: busybox:1.35, command: [sleep, "3602"]}
---
apiVersion: v1
kind: Pod
metadata: {name: job-with-sidecar}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  initContainers: [{name: proxy, image: busybox:1.35, restartPolicy: Always, command: [sleep, "3600"]}]
  containers: [{name: app, image: busybox:1.35, command: [sh, -c, "sleep 1"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: host-net}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers: [{name: app, image: busybox:1.35, command: [sleep, "3600"]}]
`

// TestPodSpecOnRealNode runs init containers, sidecars, security settings,
// termination messages and the host network on real containerd.
func TestPodSpecOnRealNode(t *testing.T) {
	cl := startClusterWith(t, 0, "node-d", "10.66.14.0/24", "wked")
	importDemo(t, cl)
	cl.apply(podSpecPods)
	status := func(name string) string {
		out, _, err := cl.wake("", "get", "pods", name, "--no-headers")
		if err != nil {
			return err.Error()
		}
		if f := strings.Fields(out); len(f) >= 3 {
			return f[2]
		}
		return out
	}
	exec := func(t *testing.T, pod string, cmd ...string) (string, error) {
		t.Helper()
		args := []string{"exec", pod}
		if len(cmd) > 2 && cmd[0] == "-c" {
			args, cmd = append(args, cmd[:2]...), cmd[2:]
		}
		out, _, err := cl.wake("", append(append(args, "--"), cmd...)...)
		return out, err
	}

	t.Run("init containers run in order before the app", func(t *testing.T) {
		eventually(t, "ordered running", 60*time.Second, func() bool { return running(cl.pod("ordered")) })
		out, err := exec(t, "ordered", "cat", "/d/order")
		if err != nil || out != "first\nsecond\napp\n" {
			t.Fatalf("order = %q, %v", out, err)
		}
		p := cl.pod("ordered")
		if len(p.Status.InitContainerStatuses) != 2 {
			t.Fatalf("init statuses %+v", p.Status.InitContainerStatuses)
		}
		for _, s := range p.Status.InitContainerStatuses {
			if s.State.Terminated == nil || s.State.Terminated.Reason != "Completed" || !s.Ready {
				t.Errorf("init container %s: %+v", s.Name, s.State)
			}
		}
		if got := status("ordered"); got != "Running" {
			t.Errorf("STATUS %s", got)
		}
	})

	t.Run("a failing init container crash loops and holds the app", func(t *testing.T) {
		eventually(t, "Init:CrashLoopBackOff", 60*time.Second, func() bool { return status("init-crashloop") == "Init:CrashLoopBackOff" })
		p := cl.pod("init-crashloop")
		if p.Status.Phase != corev1.PodPending || p.Status.ContainerStatuses[0].State.Waiting == nil ||
			p.Status.ContainerStatuses[0].State.Waiting.Reason != "PodInitializing" {
			t.Errorf("phase %s, app %+v", p.Status.Phase, p.Status.ContainerStatuses[0].State)
		}
	})

	t.Run("under restartPolicy Never a failed init container fails the pod", func(t *testing.T) {
		eventually(t, "Init:Error", 60*time.Second, func() bool { return status("init-never") == "Init:Error" })
		p := cl.pod("init-never")
		term := p.Status.InitContainerStatuses[0].State.Terminated
		if p.Status.Phase != corev1.PodFailed || term == nil || term.ExitCode != 4 || term.Message != "broken\n" {
			t.Errorf("phase %s, init %+v", p.Status.Phase, p.Status.InitContainerStatuses[0].State)
		}
	})

	t.Run("a sidecar starts first and runs beside the app", func(t *testing.T) {
		eventually(t, "with-sidecar 2/2", 60*time.Second, func() bool {
			out, _, _ := cl.wake("", "get", "pods", "with-sidecar", "--no-headers")
			f := strings.Fields(out)
			return len(f) > 2 && f[1] == "2/2" && f[2] == "Running"
		})
		out, err := exec(t, "with-sidecar", "cat", "/d/order")
		if err != nil || out != "proxy\nsetup\napp\n" {
			t.Fatalf("order = %q, %v", out, err)
		}
	})

	t.Run("sidecars stop once the app containers are done", func(t *testing.T) {
		eventually(t, "job-with-sidecar Succeeded", 60*time.Second, func() bool {
			p := cl.pod("job-with-sidecar")
			return p != nil && p.Status.Phase == corev1.PodSucceeded
		})
		if got := status("job-with-sidecar"); got != "Completed" {
			t.Errorf("STATUS %s", got)
		}
		p := cl.pod("job-with-sidecar")
		side := p.Status.InitContainerStatuses[0]
		if p.Status.Phase != corev1.PodSucceeded || side.State.Terminated == nil || side.RestartCount != 0 {
			t.Errorf("phase %s, sidecar restarts %d, %+v", p.Status.Phase, side.RestartCount, side.State)
		}
	})

	t.Run("securityContext", func(t *testing.T) {
		eventually(t, "user running", 60*time.Second, func() bool { return running(cl.pod("user")) })
		out, err := exec(t, "user", "sh", "-c", "id -u; id -g; id -G; stat -c %g /d/f; stat -c %a /d")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 5 || lines[0] != "1000" || lines[1] != "3000" || lines[3] != "2000" || lines[4] != "2777" {
			t.Errorf("uid, gid, groups, file group, dir mode = %q", out)
		}
		if groups := strings.Fields(lines[2]); !slices.Contains(groups, "2000") || !slices.Contains(groups, "4000") {
			t.Errorf("groups %q lack fsGroup 2000 or 4000", lines[2])
		}
		_, err = exec(t, "user", "touch", "/written")
		var ee *cli.ExitError
		if !errors.As(err, &ee) || ee.Code == 0 {
			t.Errorf("writing the read-only root filesystem: %v, want a failure", err)
		}
		out, err = exec(t, "user", "grep", "-E", "^(CapEff|NoNewPrivs)", "/proc/self/status")
		if err != nil || !strings.Contains(out, "CapEff:\t0000000000000000") || !strings.Contains(out, "NoNewPrivs:\t1") {
			t.Errorf("capabilities and no_new_privs: %q, %v", out, err)
		}
	})

	t.Run("runAsNonRoot refuses a root image", func(t *testing.T) {
		eventually(t, "CreateContainerConfigError", 60*time.Second, func() bool { return status("nonroot") == "CreateContainerConfigError" })
		w := cl.pod("nonroot").Status.ContainerStatuses[0].State.Waiting
		if w == nil || !strings.HasPrefix(w.Message, "container has runAsNonRoot and image will run as root (pod: \"nonroot_default(") {
			t.Errorf("waiting %+v", w)
		}
	})

	t.Run("termination messages", func(t *testing.T) {
		eventually(t, "messages done", 60*time.Second, func() bool {
			p := cl.pod("messages")
			return p != nil && (p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded)
		})
		got := map[string]string{}
		for _, s := range cl.pod("messages").Status.ContainerStatuses {
			if s.State.Terminated != nil {
				got[s.Name] = s.State.Terminated.Message
			}
		}
		// stdout and stderr reach the log by two copies: either may be first.
		if l := got["logs"]; got["file"] != "done" || len(l) != len("line1\noops\n") || !strings.Contains(l, "line1\n") || !strings.Contains(l, "oops\n") {
			t.Errorf("messages %q", got)
		}
	})

	t.Run("shareProcessNamespace: containers see each other's processes", func(t *testing.T) {
		eventually(t, "shared-pid running", 60*time.Second, func() bool { return running(cl.pod("shared-pid")) })
		out, err := exec(t, "shared-pid", "-c", "b", "ps", "-o", "pid,args")
		if err != nil || !strings.Contains(out, "sleep 3601") || !strings.Contains(out, "sleep 3602") {
			t.Errorf("ps in the shared PID namespace = %q, %v", out, err)
		}
		if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) == 0 || f[0] != "1" {
			t.Errorf("PID 1 is not the pause process:\n%s", out)
		}
		// Without it, a pod's container sees only its own processes.
		out, err = exec(t, "with-sidecar", "ps", "-o", "args")
		if err != nil || strings.Count(out, "sleep 3600") != 1 { // its own, not the sidecar's too
			t.Errorf("ps in a pod without shareProcessNamespace = %q, %v", out, err)
		}
	})

	t.Run("a restarted agent runs no init container again", func(t *testing.T) {
		cl.stopAgent()
		cl.startAgent()
		time.Sleep(3 * time.Second) // time for a wrong restart to happen
		eventually(t, "ordered running", 30*time.Second, func() bool { return running(cl.pod("ordered")) })
		out, err := exec(t, "ordered", "cat", "/d/order")
		if err != nil || out != "first\nsecond\napp\n" {
			t.Fatalf("order after the agent restarted = %q, %v", out, err)
		}
		for _, s := range cl.pod("ordered").Status.InitContainerStatuses {
			if s.State.Terminated == nil || s.State.Terminated.Reason != "Completed" || s.RestartCount != 0 {
				t.Errorf("init container %s after the agent restarted: restarts %d, %+v", s.Name, s.RestartCount, s.State)
			}
		}
	})

	t.Run("hostNetwork sees the node's interfaces", func(t *testing.T) {
		eventually(t, "host-net running", 60*time.Second, func() bool { return running(cl.pod("host-net")) })
		p := cl.pod("host-net")
		if p.Status.PodIP == "" || p.Status.PodIP != p.Status.HostIP {
			t.Errorf("pod IP %q, host IP %q", p.Status.PodIP, p.Status.HostIP)
		}
		// Other tests on the machine add and remove bridges: compare the
		// interfaces the node had both before and after the pod looked.
		before, err := net.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec(t, "host-net", "cat", "/proc/net/dev")
		if err != nil {
			t.Fatal(err)
		}
		after, err := net.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range before {
			if !slices.ContainsFunc(after, func(a net.Interface) bool { return a.Name == i.Name }) {
				continue
			}
			if !strings.Contains(out, i.Name+":") {
				t.Errorf("the pod does not see the node's interface %s:\n%s", i.Name, out)
			}
		}
	})
}
