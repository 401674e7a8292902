package containerd_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctrd "github.com/wake-run/wake/node/containerd"
	"github.com/wake-run/wake/node/runtime"
	"github.com/wake-run/wake/node/runtime/containerd"
)

// TestStopHonoursGrace: sh as PID 1 ignores SIGTERM and dies at the
// deadline; with a TERM trap it exits at once.
func TestStopHonoursGrace(t *testing.T) {
	r := rt(t)
	ctx := testContext(t)
	sb := newPod(t, r, "stop")
	stubborn := start(t, r, sb, busybox("stubborn", "while true; do sleep 0.1; done"))
	polite := start(t, r, sb, busybox("polite", `trap "exit 0" TERM; while true; do sleep 0.1; done`))
	time.Sleep(200 * time.Millisecond) // let the shells install their traps

	const grace = 1500 * time.Millisecond
	began := time.Now()
	must(t, r.StopContainer(ctx, stubborn, grace))
	if took := time.Since(began); took < grace || took > grace+2*time.Second {
		t.Errorf("stopping a container that ignores SIGTERM took %v, want the grace period %v", took, grace)
	}
	if exit := waitExit(t, r, stubborn, 5*time.Second); exit.Code != 137 || exit.Reason != runtime.ReasonError {
		t.Errorf("stubborn exit = %+v, want 137 Error", exit)
	}

	began = time.Now()
	must(t, r.StopContainer(ctx, polite, 30*time.Second))
	if took := time.Since(began); took > time.Second {
		t.Errorf("stopping a container that exits on SIGTERM took %v", took)
	}
	if exit := waitExit(t, r, polite, 5*time.Second); exit.Code != 0 || exit.Reason != runtime.ReasonCompleted {
		t.Errorf("polite exit = %+v, want 0 Completed", exit)
	}
	must(t, r.StopContainer(ctx, polite, time.Second)) // stopped already: no-op
}

func TestExec(t *testing.T) {
	r := rt(t)
	ctx := testContext(t)
	sb := newPod(t, r, "exec")
	id := start(t, r, sb, busybox("shell", "exec sleep 3600"))

	var stdout, stderr bytes.Buffer
	began := time.Now()
	code, err := r.Exec(ctx, id, runtime.ExecConfig{Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 4"}, Stdout: &stdout, Stderr: &stderr})
	t.Logf("exec took %v", time.Since(began).Round(time.Millisecond))
	must(t, err)
	if code != 4 || stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Errorf("exec = %d, stdout %q, stderr %q; want 4, out, err", code, stdout.String(), stderr.String())
	}

	stdout.Reset()
	code, err = r.Exec(ctx, id, runtime.ExecConfig{Cmd: []string{"tr", "a-z", "A-Z"}, Stdin: strings.NewReader("hello\n"), Stdout: &stdout})
	must(t, err)
	if code != 0 || stdout.String() != "HELLO\n" {
		t.Errorf("exec with stdin = %d %q, want HELLO", code, stdout.String())
	}

	stdout.Reset()
	code, err = r.Exec(ctx, id, runtime.ExecConfig{Cmd: []string{"sh", "-c", "tty >/dev/null && echo terminal"}, Stdout: &stdout, TTY: true})
	must(t, err)
	if code != 0 || !strings.Contains(stdout.String(), "terminal") {
		t.Errorf("exec with a TTY = %d %q", code, stdout.String())
	}

	stdout.Reset()
	_, err = r.Exec(ctx, id, runtime.ExecConfig{Cmd: []string{"grep", "^Seccomp:", "/proc/self/status"}, Stdout: &stdout})
	must(t, err)
	if got := strings.Join(strings.Fields(stdout.String()), " "); got != "Seccomp: 2" {
		t.Errorf("exec'd process: %q, want the default seccomp filter (Seccomp: 2)", got)
	}

	if _, err := r.Exec(ctx, id, runtime.ExecConfig{Cmd: []string{"/no/such/program"}}); err == nil {
		t.Error("exec of a missing program succeeded")
	}
	must(t, r.StopContainer(ctx, id, 0))
	if _, err := r.Exec(ctx, id, runtime.ExecConfig{Cmd: []string{"true"}}); !errors.Is(err, runtime.ErrNotRunning) {
		t.Errorf("exec in a stopped container = %v, want ErrNotRunning", err)
	}
	if _, err := r.Exec(ctx, "no-such-container", runtime.ExecConfig{Cmd: []string{"true"}}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("exec in a missing container = %v, want ErrNotFound", err)
	}
}

// TestAdoptionAfterRestart opens a second Runtime over the same state, as an
// agent does after a restart: it finds the sandbox and the running
// container with the same PID, and can wait for and stop it.
func TestAdoptionAfterRestart(t *testing.T) {
	r := rt(t)
	ctx := testContext(t)
	sb := newPod(t, r, "adopted")
	id, err := r.CreateContainer(ctx, sb, web("web"))
	must(t, err)
	pid, err := r.StartContainer(ctx, id)
	must(t, err)
	created, err := r.CreateContainer(ctx, sb, busybox("later", "exec sleep 3600"))
	must(t, err)

	restarted, err := containerd.New(ctx, env.config)
	must(t, err)
	defer restarted.Close()
	containers, err := restarted.ListContainers(ctx)
	must(t, err)
	found := map[string]runtime.ContainerStatus{}
	for _, c := range containers {
		found[c.ID] = c
	}
	if c := found[id]; c.State != runtime.ContainerRunning || c.Pid != pid || c.SandboxID != sb.ID || c.PodUID != sb.PodUID || c.Name != "web" || c.StartedAt.IsZero() {
		t.Errorf("adopted container = %+v, want running with pid %d in sandbox %s", c, pid, sb.ID)
	}
	if c := found[created]; c.State != runtime.ContainerCreated || c.Pid != 0 {
		t.Errorf("created container = %+v, want created", c)
	}
	sandboxes, err := restarted.ListSandboxes(ctx)
	must(t, err)
	var adopted *runtime.Sandbox
	for i := range sandboxes {
		if sandboxes[i].ID == sb.ID {
			adopted = &sandboxes[i]
		}
	}
	if adopted == nil || adopted.IP != sb.IP || adopted.NetNSPath != sb.NetNSPath || adopted.PodUID != sb.PodUID {
		t.Fatalf("ListSandboxes after restart = %+v, want %+v", sandboxes, sb)
	}
	if again, err := restarted.CreateSandbox(ctx, runtime.SandboxConfig{PodUID: sb.PodUID, Name: sb.Name}); err != nil || again.IP != sb.IP {
		t.Errorf("CreateSandbox for an existing pod = %+v, %v; want the same sandbox", again, err)
	}
	if got := httpGet(t, "http://"+sb.IP+":8080/"); got != "adopted\n" {
		t.Errorf("GET after restart = %q", got)
	}
	startedLater, err := restarted.StartContainer(ctx, created)
	must(t, err)
	if startedLater == 0 {
		t.Error("StartContainer of an adopted created container gave no PID")
	}
	exitC, err := restarted.WaitContainer(ctx, id)
	must(t, err)
	must(t, restarted.StopContainer(ctx, id, 5*time.Second))
	if exit := <-exitC; exit.Code != 0 || exit.Reason != runtime.ReasonCompleted {
		t.Errorf("adopted web server exit after SIGTERM = %+v, want 0 Completed", exit)
	}
}

// TestRemoveSandbox: removing a sandbox removes its containers, releases
// the IP and removes the namespaces; removing again succeeds.
func TestRemoveSandbox(t *testing.T) {
	r := rt(t)
	ctx := testContext(t)
	sb, err := r.CreateSandbox(ctx, runtime.SandboxConfig{PodUID: newUID(), Name: "gone", Namespace: "default"})
	must(t, err)
	id := start(t, r, sb, busybox("c", "exec sleep 3600"))
	reservation := filepath.Join(env.dir, "cni", "ipam", "wake-"+env.network.BridgeName(), sb.IP)
	if _, err := os.Stat(reservation); err != nil {
		t.Fatalf("no IPAM reservation for %s: %v", sb.IP, err)
	}
	began := time.Now()
	must(t, r.RemoveSandbox(ctx, sb.ID))
	t.Logf("RemoveSandbox with a running container took %v", time.Since(began).Round(time.Millisecond))
	for _, path := range []string{reservation, sb.NetNSPath, r.LogPath(id)} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after RemoveSandbox: %v", path, err)
		}
	}
	list, err := r.ListContainers(ctx)
	must(t, err)
	for _, c := range list {
		if c.SandboxID == sb.ID {
			t.Errorf("container %s left after RemoveSandbox", c.ID)
		}
	}
	must(t, r.RemoveSandbox(ctx, sb.ID))
	must(t, r.RemoveContainer(ctx, id))
	if _, err := r.StartContainer(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("StartContainer of a removed container = %v, want ErrNotFound", err)
	}
}

func TestCreateContainerRefuses(t *testing.T) {
	r := rt(t)
	ctx := testContext(t)
	sb := newPod(t, r, "refused")
	if _, err := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "c", Image: "wake.local/absent:1"}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("absent image: %v, want ErrNotFound", err)
	}
	if _, err := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "c", Image: "busybox:1.35", Labels: map[string]string{runtime.LabelPodUID: "x"}}); !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("reserved label: %v, want ErrInvalid", err)
	}
	if _, err := r.CreateContainer(ctx, runtime.Sandbox{ID: "missing", NetNSPath: "/nonexistent"}, busybox("c", "true")); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing sandbox: %v, want ErrNotFound", err)
	}
	id, err := r.CreateContainer(ctx, sb, busybox("c", "true"))
	must(t, err)
	if _, err := r.CreateContainer(ctx, sb, busybox("c", "true")); !errors.Is(err, runtime.ErrAlreadyExists) {
		t.Errorf("same attempt twice: %v, want ErrAlreadyExists", err)
	}
	if exit := waitExitAfterStart(t, r, id); exit.Reason != runtime.ReasonCompleted {
		t.Errorf("exit = %+v", exit)
	}
	if _, err := r.StartContainer(ctx, id); !errors.Is(err, runtime.ErrNotRunning) {
		t.Errorf("StartContainer of an exited container = %v, want ErrNotRunning", err)
	}
	must(t, r.RemoveContainer(ctx, id))
	must(t, r.RemoveContainer(ctx, id))
}

// waitExitAfterStart subscribes before starting, as an agent does.
func waitExitAfterStart(t *testing.T, r runtime.Runtime, id string) runtime.ExitStatus {
	t.Helper()
	ctx := testContext(t)
	exitC, err := r.WaitContainer(ctx, id)
	must(t, err)
	_, err = r.StartContainer(ctx, id)
	must(t, err)
	return <-exitC
}

// TestSurvivesContainerdRestart restarts the daemon under a running pod: the
// container keeps its PID and serves, and a wait begun before the restart
// still delivers the exit.
func TestSurvivesContainerdRestart(t *testing.T) {
	r := rt(t)
	ctx := testContext(t)
	sb := newPod(t, r, "steady")
	id, err := r.CreateContainer(ctx, sb, web("web"))
	must(t, err)
	pid, err := r.StartContainer(ctx, id)
	must(t, err)
	exitC, err := r.WaitContainer(ctx, id)
	must(t, err)

	must(t, env.daemon.Stop())
	env.daemon, err = ctrd.Ensure(ctx, ctrd.Config{StateDir: filepath.Join(env.dir, "containerd")})
	must(t, err)
	if got := httpGet(t, "http://"+sb.IP+":8080/"); got != "steady\n" {
		t.Errorf("GET after the daemon restart = %q", got)
	}
	var status runtime.ContainerStatus
	deadline := time.Now().Add(10 * time.Second)
	for status.State != runtime.ContainerRunning && time.Now().Before(deadline) {
		list, err := r.ListContainers(ctx)
		if err == nil {
			for _, c := range list {
				if c.ID == id {
					status = c
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status.State != runtime.ContainerRunning || status.Pid != pid {
		t.Fatalf("after the daemon restart: %+v, want running with pid %d", status, pid)
	}
	must(t, r.StopContainer(ctx, id, 5*time.Second))
	select {
	case exit, ok := <-exitC:
		if !ok || exit.Reason != runtime.ReasonCompleted {
			t.Errorf("wait across the restart = %+v, %v; want the exit, Completed", exit, ok)
		}
	case <-time.After(10 * time.Second):
		t.Error("a wait begun before the daemon restart never delivered the exit")
	}
}
