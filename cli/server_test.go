package cli

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"
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
