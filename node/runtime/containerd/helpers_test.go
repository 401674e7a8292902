package containerd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/node/runtime"
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newPod creates a sandbox for a pod named name and removes it, with its
// containers, when the test ends.
func newPod(t testing.TB, r runtime.Runtime, name string) runtime.Sandbox {
	t.Helper()
	ctx := testContext(t)
	sb, err := r.CreateSandbox(ctx, runtime.SandboxConfig{PodUID: newUID(), Name: name, Namespace: "default"})
	must(t, err)
	t.Cleanup(func() {
		if err := r.RemoveSandbox(context.Background(), sb.ID); err != nil {
			t.Errorf("remove sandbox %s: %v", sb.ID, err)
		}
	})
	return sb
}

// start creates and starts a container and returns its ID.
func start(t testing.TB, r runtime.Runtime, sb runtime.Sandbox, cfg runtime.ContainerConfig) string {
	t.Helper()
	ctx := testContext(t)
	id, err := r.CreateContainer(ctx, sb, cfg)
	must(t, err)
	if _, err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// busybox is a container of the busybox image running sh -c script.
func busybox(name, script string) runtime.ContainerConfig {
	return runtime.ContainerConfig{Name: name, Image: "busybox:1.35", Command: []string{"sh", "-c", script}}
}

func web(name string) runtime.ContainerConfig {
	return runtime.ContainerConfig{Name: name, Image: images.HostnameWebRef}
}

// waitExit waits for the container to exit.
func waitExit(t testing.TB, r runtime.Runtime, id string, timeout time.Duration) runtime.ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	exitC, err := r.WaitContainer(ctx, id)
	must(t, err)
	exit, ok := <-exitC
	if !ok {
		t.Fatalf("%s did not exit within %v", id, timeout)
	}
	return exit
}

func readLog(t testing.TB, r runtime.Runtime, id string) string {
	t.Helper()
	b, err := os.ReadFile(r.LogPath(id))
	must(t, err)
	return string(b)
}

// waitLog waits up to 5 s for the container's log to contain want.
func waitLog(t testing.TB, r runtime.Runtime, id, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(r.LogPath(id))
		if err == nil && strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log of %s lacks %q:\n%s", id, want, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// httpGet retries until the server answers, for up to 10 s.
func httpGet(t testing.TB, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			must(t, err)
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
