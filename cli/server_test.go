package cli

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/services/controlplane"
)

// TestServerAnswersOnceItSaysItIsReady starts `wake server` again and again on
// fresh data directories and, the moment it prints that it is ready, runs
// `wake get namespaces` and `wake get configmaps` against it: every one answers.
func TestServerAnswersOnceItSaysItIsReady(t *testing.T) {
	// The commands find the admin credential where wake server copies it: this
	// user's config directory, here a fresh one.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("SUDO_USER", "")
	t.Setenv("WAKE_CREDENTIALS", "")
	const starts = 10
	for i := range starts {
		ctx, cancel := context.WithCancel(context.Background())
		out, w := io.Pipe()
		root := NewRoot(w, io.Discard)
		root.SetArgs([]string{"server", "--data-dir", t.TempDir(), "--port", "-1", "--http", "127.0.0.1:0"})
		done := make(chan error, 1)
		go func() {
			done <- root.ExecuteContext(ctx)
			w.Close()
		}()
		lines := bufio.NewScanner(out)
		var ready bool
		var url string
		for url == "" && lines.Scan() {
			line := lines.Text()
			ready = ready || strings.HasPrefix(line, "wake server ") && strings.Contains(line, "is running (ready in ")
			if u, ok := strings.CutPrefix(line, "  listening on  "); ok {
				url = u
			}
		}
		go io.Copy(io.Discard, out)
		if !ready || url == "" {
			cancel()
			t.Fatalf("start %d: wake server printed no ready line and address: %v", i, <-done)
		}
		if r := execute(nil, "get", "namespaces", "--server", url); r.failed() || !strings.Contains(r.out, "default") {
			t.Errorf("start %d: wake get namespaces right after ready: %s%s", i, r.errLine, r.out)
		}
		if r := execute(nil, "get", "configmaps", "--server", url); r.failed() {
			t.Errorf("start %d: wake get configmaps right after ready: %s", i, r.errLine)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("start %d: wake server returned %v after its context ended, want nil", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("start %d: wake server did not stop within 10s of its context ending", i)
		}
		if t.Failed() {
			return
		}
	}
}

// TestServerStopsOnceItsStreamIsDeleted deletes the stream of record with the
// server's own rights under a running `wake server`: left alone, the command
// stops by itself with an error naming the lost stream; interrupted at once
// (SIGINT cancels its context), it returns within the grace period all the same.
func TestServerStopsOnceItsStreamIsDeleted(t *testing.T) {
	started := make(chan *controlplane.Server, 1)
	serverStarted = func(s *controlplane.Server) { started <- s }
	defer func() { serverStarted = nil }()
	for _, interrupt := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		root := NewRoot(io.Discard, io.Discard)
		root.SetArgs([]string{"server", "--data-dir", t.TempDir(), "--port", "-1", "--http", "off"})
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()
		var srv *controlplane.Server
		select {
		case srv = <-started:
		case err := <-done:
			cancel()
			t.Fatalf("wake server did not start: %v", err)
		}
		if err := srv.Log().JetStream().DeleteStream(ctx, events.DefaultStream); err != nil {
			cancel()
			t.Fatal(err)
		}
		if interrupt {
			cancel()
		}
		select {
		case err := <-done:
			switch {
			case err == nil && !interrupt:
				t.Errorf("wake server kept quiet about its deleted stream: returned nil")
			case err != nil && !strings.Contains(err.Error(), "the stream of record WAKE does not exist"):
				t.Errorf("interrupted %v: wake server returned %q, want it to name the deleted stream", interrupt, err)
			}
		case <-time.After(shutdownGrace):
			cancel()
			t.Fatalf("interrupted %v: wake server did not stop within %s of its stream's deletion", interrupt, shutdownGrace)
		}
		cancel()
	}
}
