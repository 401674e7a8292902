package cli

import (
	"bytes"
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/wake-run/wake/services/controlplane"
)

// TestEventsFollowStopsWhenItsContextEnds follows the log with `wake events -f`
// and ends the command's context, as Main does at the first SIGINT or SIGTERM:
// the command returns nil within 10s (watchLines checks it at cleanup).
func TestEventsFollowStopsWhenItsContextEnds(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "namespace", "settings")
	lines := h.watchLines("events", "-f")
	nextLine(t, lines, "the header or the first event")
}

// TestInterruptedCommandExitsQuietly runs a request whose context has already
// ended (the person pressed Ctrl-C): it exits with 130, as a command ended by
// SIGINT, and prints no error about the cancelled request.
func TestInterruptedCommandExitsQuietly(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := runMain(ctx, []string{"get", "configmaps", "--server", h.srv.ClientURL(), "--credentials", h.srv.AdminCredentials()}, &out, &errOut)
	if code != 130 || errOut.Len() != 0 {
		t.Errorf("interrupted wake get configmaps: exit %d, stderr %q; want 130 and nothing", code, errOut.String())
	}
	// Not interrupted, the same command succeeds through the same path.
	if code := runMain(context.Background(), []string{"get", "configmaps", "--server", h.srv.ClientURL(), "--credentials", h.srv.AdminCredentials()}, &out, &errOut); code != 0 {
		t.Errorf("wake get configmaps: exit %d, stderr %q; want 0", code, errOut.String())
	}
}

// TestMainStopsWakeServerAtSIGINT sends this process a real SIGINT while Main
// runs `wake server`: Main's signal handling ends the command's context and the
// server stops gracefully within its grace, exit code 0, instead of the process
// being killed.
func TestMainStopsWakeServerAtSIGINT(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("SUDO_USER", "")
	t.Setenv("WAKE_CREDENTIALS", "")
	started := make(chan *controlplane.Server, 1)
	serverStarted = func(s *controlplane.Server) { started <- s }
	defer func() { serverStarted = nil }()
	// Main prints to os.Stdout and os.Stderr: keep the banner out of the test's output.
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = devnull, devnull
	defer func() { os.Stdout, os.Stderr = stdout, stderr }()
	done := make(chan int, 1)
	go func() { done <- Main([]string{"server", "--data-dir", t.TempDir(), "--port", "-1", "--http", "off"}) }()
	select {
	case <-started: // Main's signal handler is in place before the server starts
	case code := <-done:
		t.Fatalf("wake server did not start: exit %d", code)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("wake server after SIGINT: exit %d, want 0 (a graceful stop)", code)
		}
	case <-time.After(shutdownGrace):
		t.Fatalf("wake server did not stop within %s of SIGINT", shutdownGrace)
	}
}
