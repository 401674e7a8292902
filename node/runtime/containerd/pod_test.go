package containerd_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestPodNetworkAndVolumes runs a pod of three containers: hostname-web,
// a busybox sidecar that fetches it on localhost into an emptyDir, and a
// reader that prints what the sidecar wrote. The host reaches the web
// server on the pod's IP through the bridge.
func TestPodNetworkAndVolumes(t *testing.T) {
	r := rt(t)
	ctx := testContext(t)
	sb := newPod(t, r, "web-1")
	_, subnet, _ := net.ParseCIDR(env.subnet)
	if !subnet.Contains(net.ParseIP(sb.IP)) {
		t.Fatalf("pod IP %q is not in %s", sb.IP, env.subnet)
	}
	if fi, err := os.Stat(sb.NetNSPath); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("netns %s: %v", sb.NetNSPath, err)
	}

	emptyDir := t.TempDir()
	webID := start(t, r, sb, web("web"))
	if got := httpGet(t, "http://"+sb.IP+":8080/"); got != "web-1\n" {
		t.Errorf("GET pod IP from the host = %q, want the pod's hostname web-1", got)
	}
	// The log is written while the container runs.
	waitLog(t, r, webID, "hostname-web web-1 listening on")
	waitLog(t, r, webID, "GET / 200")

	sidecar := busybox("sidecar", `until wget -qO /shared/web http://127.0.0.1:8080/; do sleep 0.1; done; echo written > /shared/note; exec sleep 3600`)
	sidecar.Mounts = []runtime.Mount{{HostPath: emptyDir, ContainerPath: "/shared"}}
	sidecarID := start(t, r, sb, sidecar)

	reader := busybox("reader", `while [ ! -f /in/note ]; do sleep 0.1; done; cat /in/web /in/note; touch /in/x 2>/dev/null || echo read-only`)
	reader.Mounts = []runtime.Mount{{HostPath: emptyDir, ContainerPath: "/in", ReadOnly: true}}
	readerID := start(t, r, sb, reader)
	exit := waitExit(t, r, readerID, 30*time.Second)
	if exit.Code != 0 || exit.Reason != runtime.ReasonCompleted {
		t.Errorf("reader exit = %+v", exit)
	}
	if got := readLog(t, r, readerID); got != "web-1\nwritten\nread-only\n" {
		t.Errorf("reader printed %q, want what the sidecar fetched on localhost, its note, and read-only", got)
	}

	var out bytes.Buffer
	code, err := r.Exec(ctx, sidecarID, runtime.ExecConfig{Cmd: []string{"sh", "-c", "hostname; cat /etc/hostname; grep web-1 /etc/hosts"}, Stdout: &out})
	must(t, err)
	if want := "web-1\nweb-1\n" + sb.IP + "\tweb-1\n"; code != 0 || out.String() != want {
		t.Errorf("hostname, /etc/hostname, /etc/hosts in the sidecar = %d %q, want %q", code, out.String(), want)
	}
}

// TestCommandArgsEnvWorkingDir checks Kubernetes' command and args rules
// over busybox's cmd [sh], env over the image's, the working directory,
// exit codes and reasons, and that output lands in LogPath.
func TestCommandArgsEnvWorkingDir(t *testing.T) {
	r := rt(t)
	sb := newPod(t, r, "cmd")
	for i, tc := range []struct {
		name     string
		cfg      runtime.ContainerConfig
		wantLog  string
		wantCode int
		reason   string
	}{
		{name: "command and args", cfg: runtime.ContainerConfig{Command: []string{"echo", "from-command"}, Args: []string{"and-args"}},
			wantLog: "from-command and-args\n", reason: runtime.ReasonCompleted},
		{name: "args replace the image's cmd", cfg: runtime.ContainerConfig{Args: []string{"echo", "args-only"}},
			wantLog: "args-only\n", reason: runtime.ReasonCompleted},
		{name: "image cmd", cfg: runtime.ContainerConfig{},
			wantLog: "", reason: runtime.ReasonCompleted}, // sh with no stdin exits 0
		{name: "env and working dir", cfg: runtime.ContainerConfig{
			Command: []string{"sh", "-c", `echo "$GREETING $(pwd) $PATH"`},
			Env:     []string{"GREETING=hello", "PATH=/bin"}, WorkingDir: "/tmp"},
			wantLog: "hello /tmp /bin\n", reason: runtime.ReasonCompleted},
		{name: "image env", cfg: runtime.ContainerConfig{Command: []string{"sh", "-c", `echo $PATH`}},
			wantLog: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", reason: runtime.ReasonCompleted},
		{name: "exit code and stderr", cfg: runtime.ContainerConfig{Command: []string{"sh", "-c", "echo failing >&2; exit 3"}},
			wantLog: "failing\n", wantCode: 3, reason: runtime.ReasonError},
		// PID 1 cannot be sent SIGKILL from inside its namespace: its child is.
		{name: "killed, not OOM", cfg: runtime.ContainerConfig{Command: []string{"sh", "-c", `sh -c 'kill -9 $$'; exit $?`}},
			wantLog: "Killed\n", wantCode: 137, reason: runtime.ReasonError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Name, cfg.Attempt, cfg.Image = "c", uint32(i), "busybox:1.35"
			before := time.Now()
			id := start(t, r, sb, cfg)
			exit := waitExit(t, r, id, 30*time.Second)
			if exit.Code != tc.wantCode || exit.Reason != tc.reason || exit.OOMKilled {
				t.Errorf("exit = %+v, want code %d reason %s", exit, tc.wantCode, tc.reason)
			}
			if exit.StartedAt.Before(before.Add(-time.Second)) || exit.FinishedAt.Before(exit.StartedAt) {
				t.Errorf("started %v, finished %v, test began %v", exit.StartedAt, exit.FinishedAt, before)
			}
			if got := readLog(t, r, id); got != tc.wantLog {
				t.Errorf("log = %q, want %q", got, tc.wantLog)
			}
			must(t, r.RemoveContainer(testContext(t), id))
			if _, err := os.Stat(r.LogPath(id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("log after RemoveContainer: %v", err)
			}
		})
	}
}

// TestOOMKilled: a container that allocates past its 32 MiB limit is
// killed by the kernel and reported OOMKilled with 137.
func TestOOMKilled(t *testing.T) {
	r := rt(t)
	sb := newPod(t, r, "oom")
	cfg := busybox("hog", `x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived; sleep 1`)
	cfg.Resources = runtime.Resources{MemoryLimitBytes: 32 << 20}
	id := start(t, r, sb, cfg)
	exit := waitExit(t, r, id, time.Minute)
	if exit.Code != 137 || !exit.OOMKilled || exit.Reason != runtime.ReasonOOMKilled {
		t.Errorf("exit = %+v, want 137 OOMKilled", exit)
	}
	// The status of an exited container says the same after the fact.
	list, err := r.ListContainers(testContext(t))
	must(t, err)
	for _, c := range list {
		if c.ID == id && (c.State != runtime.ContainerExited || c.Exit == nil || c.Exit.Reason != runtime.ReasonOOMKilled) {
			t.Errorf("ListContainers: %+v (exit %+v)", c, c.Exit)
		}
	}
}

// TestResourceLimits reads the cgroup files the kernel enforces.
func TestResourceLimits(t *testing.T) {
	r := rt(t)
	sb := newPod(t, r, "limits")
	cfg := busybox("c", "exec sleep 3600")
	cfg.Resources = runtime.ResourcesFor(corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	})
	id := start(t, r, sb, cfg)
	cgroup := "/" + r.Namespace() + "/" + id
	for file, want := range map[string]string{
		"/sys/fs/cgroup/memory" + cgroup + "/memory.limit_in_bytes": "67108864",
		"/sys/fs/cgroup/cpu" + cgroup + "/cpu.shares":               "256",
		"/sys/fs/cgroup/cpu" + cgroup + "/cpu.cfs_quota_us":         "50000",
		"/sys/fs/cgroup/cpu" + cgroup + "/cpu.cfs_period_us":        "100000",
	} {
		b, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			t.Skipf("no cgroup v1 file %s (cgroup v2 host?)", file)
		}
		must(t, err)
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("%s = %s, want %s", file, got, want)
		}
	}
}

// TestLogKeepsTheLastLines: what a process writes to stdout and stderr just
// before it exits is all in the log once WaitContainer reports the exit
// (the runc shim's own file logging loses stderr's tail).
func TestLogKeepsTheLastLines(t *testing.T) {
	r := rt(t)
	sb := newPod(t, r, "crashing")
	scripts := map[string][]string{
		`echo err >&2; exit 1`: {"err"},
		`for i in 1 2 3; do echo out$i; echo err$i >&2; done; exit 1`: {"err1", "err2", "err3", "out1", "out2", "out3"},
	}
	var attempt uint32
	for script, want := range scripts {
		for range 10 {
			cfg := busybox("c", script)
			cfg.Attempt = attempt
			attempt++
			id := start(t, r, sb, cfg)
			if exit := waitExit(t, r, id, 30*time.Second); exit.Code != 1 {
				t.Fatalf("exit = %+v", exit)
			}
			lines := strings.Fields(readLog(t, r, id))
			slices.Sort(lines)
			if !slices.Equal(lines, want) {
				t.Errorf("%s logged %q, want %q in any order", script, lines, want)
			}
			must(t, r.RemoveContainer(testContext(t), id))
		}
	}
}
