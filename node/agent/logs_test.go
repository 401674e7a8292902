package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wake-run/wake/cli"
	"github.com/wake-run/wake/node/api"
)

const streamPods = `apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: busybox:1.35, imagePullPolicy: IfNotPresent, command: [sh, -c, "echo one; echo two >&2; sleep 3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: counter}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: busybox:1.35, imagePullPolicy: IfNotPresent, command: [sh, -c, "i=0; while true; do echo n$i; i=$((i+1)); sleep 0.2; done"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: restarter}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: d, emptyDir: {}}]
  containers:
  - name: main
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    volumeMounts: [{name: d, mountPath: /d}]
    command: [sh, -c, "if [ -f /d/x ]; then echo second; sleep 3600; else touch /d/x; echo first; exit 1; fi"]
`

// wake runs a wake command line against the cluster, with stdin.
func (cl *cluster) wake(stdin string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	root := cli.NewRoot(&out, &errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--server", cl.srv.ClientURL(), "--credentials", cl.srv.AdminCredentials()}, args...))
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsAndExec(t *testing.T) {
	cl := startCluster(t)
	importDemo(t, cl)
	cl.apply(streamPods)
	for _, name := range []string{"talker", "counter", "restarter"} {
		eventually(t, name+" running", 60*time.Second, func() bool { return running(cl.pod(name)) })
	}

	t.Run("logs", func(t *testing.T) {
		var out string
		eventually(t, "both lines logged", 10*time.Second, func() bool {
			var err error
			out, _, err = cl.wake("", "logs", "talker")
			return err == nil && strings.Contains(out, "one\n") && strings.Contains(out, "two\n")
		})
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("logs = %q, want two lines", out)
		}
		tail, _, err := cl.wake("", "logs", "talker", "-c", "main", "--tail", "1")
		if err != nil {
			t.Fatal(err)
		}
		if tail != lines[1]+"\n" {
			t.Errorf("--tail 1 = %q, want %q", tail, lines[1]+"\n")
		}
		if none, _, err := cl.wake("", "logs", "talker", "--tail", "0"); err != nil || none != "" {
			t.Errorf("--tail 0 = %q, %v", none, err)
		}
	})

	t.Run("follow", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var buf syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- cli.Logs(ctx, cl.c, cli.LogsOptions{Namespace: "default", Pod: "counter", Follow: true, Tail: 0}, &buf)
		}()
		// With --tail 0 only lines written after the request arrive.
		eventually(t, "a new line followed", 10*time.Second, func() bool {
			return strings.Count(buf.String(), "\n") >= 3
		})
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if !strings.HasPrefix(l, "n") {
				t.Errorf("followed line %q", l)
			}
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("follow ended with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("follow did not end with its context")
		}
	})

	t.Run("previous", func(t *testing.T) {
		eventually(t, "restarted once", 30*time.Second, func() bool {
			p := cl.pod("restarter")
			return running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
		})
		var cur string
		eventually(t, "current log", 10*time.Second, func() bool {
			cur, _, _ = cl.wake("", "logs", "restarter")
			return cur == "second\n"
		})
		prev, _, err := cl.wake("", "logs", "restarter", "--previous")
		if err != nil || prev != "first\n" {
			t.Errorf("--previous = %q, %v", prev, err)
		}
		if _, _, err := cl.wake("", "logs", "talker", "--previous"); err == nil || !strings.Contains(err.Error(), `previous terminated container "main" in pod "talker" not found`) {
			t.Errorf("--previous without a restart: %v", err)
		}
	})

	t.Run("exec", func(t *testing.T) {
		out, _, err := cl.wake("", "exec", "talker", "--", "sh", "-c", "echo hi; echo oops >&2; exit 7")
		var ee *cli.ExitError
		if !errors.As(err, &ee) || ee.Code != 7 {
			t.Fatalf("exec error = %v, want exit code 7", err)
		}
		if out != "hi\n" {
			t.Errorf("exec stdout = %q", out)
		}
		var stdout, stderr bytes.Buffer
		code, err := cli.Exec(context.Background(), cl.c, cli.ExecOptions{Namespace: "default", Pod: "talker",
			Cmd: []string{"sh", "-c", "echo hi; echo oops >&2; exit 7"}}, nil, &stdout, &stderr)
		if err != nil || code != 7 || stdout.String() != "hi\n" || stderr.String() != "oops\n" {
			t.Errorf("Exec = %d, %v, stdout %q, stderr %q", code, err, stdout.String(), stderr.String())
		}
		if out, _, err := cl.wake("", "exec", "talker", "--", "true"); err != nil || out != "" {
			t.Errorf("exec true = %q, %v", out, err)
		}
	})

	t.Run("exec stdin", func(t *testing.T) {
		input := strings.Repeat("hello wake\n", 20000) // several chunks
		out, _, err := cl.wake(input, "exec", "-i", "talker", "--", "cat")
		if err != nil {
			t.Fatal(err)
		}
		if out != input {
			t.Errorf("cat echoed %d bytes, want %d", len(out), len(input))
		}
		out, _, err = cl.wake("a b c\n", "exec", "-i", "talker", "--", "wc", "-w")
		if err != nil || strings.TrimSpace(out) != "3" {
			t.Errorf("wc -w = %q, %v", out, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"logs", "talker", "-c", "nope"},
			{"exec", "talker", "-c", "nope", "--", "true"},
		} {
			_, _, err := cl.wake("", args...)
			if err == nil || err.Error() != "container nope is not valid for pod talker" {
				t.Errorf("%v: %v", args, err)
			}
		}
		if _, _, err := cl.wake("", "logs", "ghost"); err == nil || !strings.Contains(err.Error(), "ghost") {
			t.Errorf("logs of a missing pod: %v", err)
		}
		if _, _, err := cl.wake("", "exec", "talker", "--", "/no/such/binary"); err == nil {
			t.Error("exec of a missing binary succeeded")
		}
		// The agent checks on its own too.
		req, _ := json.Marshal(api.ExecRequest{Namespace: "default", Pod: "talker", Container: "nope", Cmd: []string{"true"}, Inbox: "x"})
		msg, err := cl.c.NC.Request(api.ExecSubject(cl.cfg.NodeName), req, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var r api.ExecReply
		_ = json.Unmarshal(msg.Data, &r)
		if r.Error != "container nope is not valid for pod talker" {
			t.Errorf("agent answered %+v", r)
		}
		req, _ = json.Marshal(api.ExecRequest{Namespace: "default", Pod: "ghost", Container: "main", Cmd: []string{"true"}, Inbox: "x"})
		msg, err = cl.c.NC.Request(api.ExecSubject(cl.cfg.NodeName), req, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(msg.Data, &r)
		if r.Error != "pod ghost is not running on node node-1" {
			t.Errorf("agent answered %+v", r)
		}
	})
}
