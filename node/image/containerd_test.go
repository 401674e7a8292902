package image_test

import (
	"bufio"
	"context"
	"fmt"
	"github.com/wake-run/wake/node/host"
	"github.com/wake-run/wake/node/host/hosttest"
	"github.com/wake-run/wake/node/teardown"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/node/image"
)

// TestContainerdImportsAndRuns imports the demo archive into a private
// containerd with ctr, checks the names containerd stores, runs busybox once
// and serves one request from hostname-web. It skips only when containerd is
// not installed.
func TestContainerdImportsAndRuns(t *testing.T) {
	hosttest.RequireRoot(t, "containerd")
	hosttest.Require(t, host.Containerd, host.Runc, host.Busybox)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	dir := t.TempDir()
	imgs, err := images.Demo(ctx, dir)
	must(t, err)
	archivePath := filepath.Join(dir, "demo.tar")
	f, err := os.Create(archivePath)
	must(t, err)
	must(t, image.WriteArchive(f, imgs))
	must(t, f.Close())
	f, err = os.Open(archivePath)
	must(t, err)
	named, err := image.ReadArchive(f)
	f.Close()
	must(t, err)

	d := startContainerd(ctx, t, dir)
	start := time.Now()
	t.Logf("ctr images import:\n%s(%v)", d.ctr(ctx, t, "images", "import", archivePath), time.Since(start).Round(time.Millisecond))

	listed := d.ctr(ctx, t, "images", "ls")
	t.Logf("ctr images ls:\n%s", listed)
	names := strings.Fields(d.ctr(ctx, t, "images", "ls", "-q"))
	slices.Sort(names)
	if want := []string{images.BusyboxRef, images.HostnameWebRef}; !slices.Equal(names, want) {
		t.Fatalf("containerd has images %q, want exactly %q", names, want)
	}
	for _, img := range named {
		if !strings.Contains(listed, img.Name) || !strings.Contains(listed, img.Digest.String()) {
			t.Errorf("ctr images ls does not show %s at %s", img.Name, img.Digest)
		}
	}

	out := d.ctr(ctx, t, "run", "--rm", images.BusyboxRef, "wake-test-busybox", "sh", "-c", "echo wake says hello; id -un; ls /bin/sh")
	if want := "wake says hello\nroot\n/bin/sh\n"; out != want {
		t.Errorf("busybox printed %q, want %q", out, want)
	}

	t.Run("hostname-web serves and stops on SIGTERM", func(t *testing.T) {
		port := freePort(t)
		logPath := filepath.Join(dir, "web.log")
		const id = "wake-test-web"
		d.ctr(ctx, t, "run", "-d", "--net-host", "--env", "PORT="+port, "--log-uri", "file://"+logPath, images.HostnameWebRef, id)
		d.waitTask(ctx, t, id, "RUNNING")
		hostname, err := os.Hostname()
		must(t, err)
		if body := httpGet(ctx, t, "http://127.0.0.1:"+port+"/"); body != hostname+"\n" {
			t.Errorf("GET / = %q, want %q", body, hostname+"\n")
		}
		if body := httpGet(ctx, t, "http://127.0.0.1:"+port+"/healthz"); body != "ok\n" {
			t.Errorf("GET /healthz = %q, want ok", body)
		}
		d.ctr(ctx, t, "task", "kill", "--signal", "SIGTERM", id)
		d.waitTask(ctx, t, id, "STOPPED")
		// ctr task rm warns "task ... exit with non-zero exit code N" on stderr.
		if out, err := d.run(ctx, "task", "rm", id); err != nil || out != "" {
			t.Errorf("hostname-web did not exit cleanly on SIGTERM: ctr task rm: %v %q", err, out)
		}
		d.ctr(ctx, t, "containers", "rm", id)
		log, err := os.ReadFile(logPath)
		must(t, err)
		for _, want := range []string{"listening on", "GET / 200", "GET /healthz 200", "shutting down"} {
			if !strings.Contains(string(log), want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
	})
}

// containerd is a private containerd daemon with its own root, state and
// socket under a test directory.
type containerd struct {
	sock, namespace string
}

func startContainerd(ctx context.Context, t *testing.T, dir string) *containerd {
	t.Helper()
	base := filepath.Join(dir, "containerd")
	must(t, os.MkdirAll(base, 0o700))
	d := &containerd{sock: filepath.Join(base, "containerd.sock"), namespace: fmt.Sprintf("wake-image-test-%d", os.Getpid())}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(base, "root"), filepath.Join(base, "state"), d.sock, filepath.Join(base, "opt"))
	configPath := filepath.Join(base, "config.toml")
	must(t, os.WriteFile(configPath, []byte(config), 0o600))
	logFile, err := os.Create(filepath.Join(base, "containerd.log"))
	must(t, err)
	cmd := exec.Command("containerd", "--config", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	must(t, cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		d.removeAll(t)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		teardown.RemoveNamespaceState(d.namespace)
		logFile.Close()
		unmountUnder(t, base)
		// containerd 1.6's runc shim keeps its state under /run/containerd
		// whatever the daemon's state directory; drop the namespace's
		// directory there (empty once the containers are gone).
		os.Remove(filepath.Join("/run/containerd/runc", d.namespace))
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("containerd log:\n%s", b)
			}
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := exec.CommandContext(ctx, "ctr", "--address", d.sock, "version").Run(); err == nil {
			return d
		}
		select {
		case <-exited:
			t.Fatalf("containerd exited at start")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("containerd did not answer on its socket within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ctr runs ctr against the private daemon and returns its standard output.
// It fails the test when ctr fails.
func (d *containerd) ctr(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", d.sock, "--namespace", d.namespace}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// run runs ctr against the private daemon and returns its standard output
// and error together.
func (d *containerd) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", d.sock, "--namespace", d.namespace}, args...)...).CombinedOutput()
	return string(out), err
}

// waitTask waits until ctr task ls shows the task in status.
func (d *containerd) waitTask(ctx context.Context, t *testing.T, id, status string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := d.ctr(ctx, t, "task", "ls")
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == id && f[2] == status {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s never reached %s:\n%s", id, status, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeAll deletes what a failed test may have left in the namespace, so
// containerd unmounts its snapshots and the shims exit.
func (d *containerd) removeAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := d.run(ctx, "containers", "ls", "-q")
	for _, id := range strings.Fields(out) {
		d.run(ctx, "task", "kill", "--signal", "SIGKILL", id)
		d.run(ctx, "task", "rm", "--force", id)
		if out, err := d.run(ctx, "containers", "rm", id); err != nil {
			t.Errorf("cleanup: ctr containers rm %s: %v\n%s", id, err, out)
		}
	}
	out, _ = d.run(ctx, "images", "ls", "-q")
	if names := strings.Fields(out); len(names) > 0 {
		if out, err := d.run(ctx, append([]string{"images", "rm"}, names...)...); err != nil {
			t.Errorf("cleanup: ctr images rm: %v\n%s", err, out)
		}
	}
}

// unmountUnder detaches any mount left below dir (a snapshot of a container
// containerd could not delete), deepest first, so the directory can be removed.
func unmountUnder(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		t.Errorf("cleanup: %s was still mounted", m)
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func httpGet(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		must(t, err)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			must(t, err)
			return string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
