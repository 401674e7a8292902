package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/services/controlplane"
	"sigs.k8s.io/yaml"
)

// harness is a whole control plane on a fresh data directory, and a way to run
// wake commands against it as a person would.
type harness struct {
	t   *testing.T
	srv *controlplane.Server
	dir string // for manifest files
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, controlplane.Config{NoWorkloadControllers: true})
}

// newHarnessWith starts a control plane with cfg's choices on a fresh data
// directory, a random port and no logs.
func newHarnessWith(t *testing.T, cfg controlplane.Config) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.DataDir, cfg.Port, cfg.Logger = t.TempDir(), -1, slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := controlplane.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return &harness{t: t, srv: srv, dir: t.TempDir()}
}

// result is what one command printed. errLine is the error as wake's main prints
// it (empty on success).
type result struct {
	out, errOut, errLine string
}

func (r result) failed() bool { return r.errLine != "" }

// execute runs a command line the way Main does, without exiting.
// commandDeadline bounds each command a test runs.
const commandDeadline = 2 * time.Minute

func execute(stdin io.Reader, args ...string) result {
	var out, errOut bytes.Buffer
	root := NewRoot(&out, &errOut)
	root.SetArgs(args)
	if stdin != nil {
		root.SetIn(stdin)
	}
	var r result
	// No command of these tests runs for minutes: one that does waits on
	// something that never answers, and fails naming itself instead of
	// stalling the package until go test's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), commandDeadline)
	defer cancel()
	if err := root.ExecuteContext(ctx); err != nil {
		r.errLine = formatError(err)
	}
	if ctx.Err() == context.DeadlineExceeded {
		r.errLine = fmt.Sprintf("test harness: wake %s did not end within %s (%s)", strings.Join(args, " "), commandDeadline, r.errLine)
	}
	r.out, r.errOut = out.String(), errOut.String()
	return r
}

// run runs wake with args against the harness's server.
func (h *harness) run(args ...string) result {
	return execute(nil, append(args, "--server", h.srv.ClientURL(), "--credentials", h.srv.AdminCredentials())...)
}

// ok runs wake and fails the test if the command fails.
func (h *harness) ok(args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if r.failed() {
		h.t.Fatalf("wake %s: %s\nstderr: %s", strings.Join(args, " "), r.errLine, r.errOut)
	}
	return r
}

// fails runs wake and fails the test unless the command fails.
func (h *harness) fails(args ...string) result {
	h.t.Helper()
	r := h.run(args...)
	if !r.failed() {
		h.t.Fatalf("wake %s succeeded, want an error\nstdout: %s", strings.Join(args, " "), r.out)
	}
	return r
}

// file writes a manifest into the harness's directory and returns its path.
func (h *harness) file(name, content string) string {
	h.t.Helper()
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// lastSeq is the sequence of the newest event in the log.
func (h *harness) lastSeq() uint64 {
	h.t.Helper()
	seq, err := h.srv.Log().LastSeq(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return seq
}

// subjectEvents returns every event on ref's subject, oldest first.
func (h *harness) subjectEvents(ref events.Ref) []*events.Event {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cur, err := h.srv.Log().Read(ctx, events.ReadOptions{Subjects: []string{ref.Subject()}, Bounded: true})
	if err != nil {
		h.t.Fatal(err)
	}
	defer cur.Close()
	var out []*events.Event
	for {
		rec, err := cur.Next(ctx)
		if err == io.EOF {
			return out
		}
		if err != nil {
			h.t.Fatal(err)
		}
		ev, err := rec.Decode()
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, ev)
	}
}

// getObject returns `wake get ... -o yaml` parsed.
func (h *harness) getObject(args ...string) map[string]any {
	h.t.Helper()
	r := h.ok(append([]string{"get"}, append(args, "-o", "yaml")...)...)
	var m map[string]any
	if err := yaml.Unmarshal([]byte(r.out), &m); err != nil {
		h.t.Fatalf("get -o yaml printed invalid YAML: %v\n%s", err, r.out)
	}
	return m
}

// field digs a dotted path out of a generic object ("spec.replicas").
func field(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// lines splits output into lines of whitespace-separated fields.
func lines(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l != "" {
			rows = append(rows, strings.Fields(l))
		}
	}
	return rows
}

const webYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 8080
`
