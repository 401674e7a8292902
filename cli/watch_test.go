package cli

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// watchLines runs wake with args (a watch) until the test ends and returns a
// channel of the lines it prints.
func (h *harness) watchLines(args ...string) <-chan string {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	var errOut strings.Builder
	root := NewRoot(w, &errOut)
	root.SetArgs(append(args, "--server", h.srv.ClientURL(), "--credentials", h.srv.AdminCredentials()))
	done := make(chan error, 1)
	go func() {
		done <- root.ExecuteContext(ctx)
		w.Close()
	}()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	h.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				h.t.Errorf("wake %s ended with %v (stderr %q)", strings.Join(args, " "), err, errOut.String())
			}
		case <-time.After(10 * time.Second):
			h.t.Errorf("wake %s did not stop within 10s of its context ending", strings.Join(args, " "))
		}
	})
	return lines
}

// nextLine returns the next line printed, failing the test after 10s.
func nextLine(t *testing.T, lines <-chan string, what string) []string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("watch ended while waiting for %s", what)
		}
		return strings.Fields(l)
	case <-time.After(10 * time.Second):
		t.Fatalf("no line within 10s while waiting for %s", what)
	}
	return nil
}

// noLine fails the test if a line is printed within d.
func noLine(t *testing.T, lines <-chan string, d time.Duration, why string) {
	t.Helper()
	select {
	case l := <-lines:
		t.Fatalf("printed %q, want nothing: %s", l, why)
	case <-time.After(d):
	}
}

func TestGetNamedWatchFollowsOneObject(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	h.ok("apply", "-f", h.file("api.yaml", strings.ReplaceAll(webYAML, "web", "api")))
	for _, args := range [][]string{{"get", "deploy", "web", "-w"}, {"get", "deployment.apps/web", "--watch"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			lines := h.watchLines(args...)
			if got := nextLine(t, lines, "the header"); got[0] != "NAME" {
				t.Fatalf("first line %v, want the header", got)
			}
			got := nextLine(t, lines, "the row of web")
			if got[0] != "web" {
				t.Fatalf("row %v, want web's", got)
			}
			replicas := "5"
			if args[1] != "deploy" {
				replicas = "7"
			}
			h.ok("scale", "deploy", "api", "--replicas", "4")
			h.ok("scale", "deploy", "web", "--replicas", replicas)
			got = nextLine(t, lines, "web's change")
			if got[0] != "web" || got[1] != "0/"+replicas {
				t.Fatalf("after scaling web to %s and api to 4: row %v, want web 0/%s (and no row of api)", replicas, got, replicas)
			}
			noLine(t, lines, 300*time.Millisecond, "nothing else changed web")
		})
	}
	lines := h.watchLines("get", "deploy", "web", "-w", "--no-headers")
	if got := nextLine(t, lines, "web's row"); got[0] != "web" {
		t.Fatalf("row %v, want web's", got)
	}
	h.ok("delete", "deploy", "web")
	if got := nextLine(t, lines, "web's deletion"); got[0] != "web" {
		t.Fatalf("after deleting web: row %v, want web's last state", got)
	}
}

func TestGetNamedWatchRefusesMissingObjectsAndSeveralNames(t *testing.T) {
	h := newHarness(t)
	r := h.fails("get", "deploy", "nope", "-w")
	if r.errLine != `Error from server (NotFound): deployments.apps "nope" not found` {
		t.Errorf("watch of a missing deployment: %q, want kubectl's NotFound", r.errLine)
	}
	r = h.fails("get", "deploy", "a", "b", "-w")
	if !strings.Contains(r.errLine, "one resource type or one object") {
		t.Errorf("watch of two names: %q, want a refusal naming what --watch takes", r.errLine)
	}
}
