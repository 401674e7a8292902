package controlplane_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func startIn(t *testing.T, dir string) *controlplane.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: dir, Port: -1, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown) // Shutdown is idempotent: a test may stop it earlier
	return srv
}

func connect(t *testing.T, srv *controlplane.Server) *client.Client {
	t.Helper()
	c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestDefaultNamespaceExistsAfterStart(t *testing.T) {
	srv := startIn(t, t.TempDir())
	c := connect(t, srv)
	k, _ := object.ByKind("Namespace")
	st, err := c.Query.Get(context.Background(), k, "", "default")
	if err != nil {
		t.Fatal(err)
	}
	ns := st.Object.(*corev1.Namespace)
	if ns.Status.Phase != corev1.NamespaceActive || ns.UID == "" || ns.CreationTimestamp.IsZero() {
		t.Errorf("default namespace = %+v", ns)
	}
	evs, err := c.Query.Events(context.Background(), k, "", "default", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Actor != controlplane.Actor || evs[0].Type != "namespace.created" {
		t.Errorf("events of the default namespace = %+v, want one created by %s", evs, controlplane.Actor)
	}
}

func TestSecondServerOnTheSameDataDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	startIn(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	second, err := controlplane.Start(ctx, controlplane.Config{DataDir: dir, Port: -1, Logger: discard})
	if err == nil {
		second.Shutdown()
		t.Fatal("a second server started on a data directory in use")
	}
	if !strings.Contains(err.Error(), "in use by another wake process") || !strings.Contains(err.Error(), dir) {
		t.Errorf("error = %q, want it to name the directory and say it is in use by another wake process", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("error = %q, want the owner's pid", err)
	}
}

const manifests = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
`

// populate applies the manifests, updates and deletes a few objects, so the log
// holds every kind of event.
func populate(t *testing.T, c *client.Client) {
	t.Helper()
	ctx := context.Background()
	controlplanetest.Apply(t, c, manifests)
	deploy, _ := object.ByKind("Deployment")
	if err := c.Scale(ctx, deploy, "shop", "web", 5); err != nil {
		t.Fatal(err)
	}
	cm, _ := object.ByKind("ConfigMap")
	for _, name := range []string{"tmp-1", "tmp-2"} {
		controlplanetest.Apply(t, c, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+name+", namespace: default}\n")
	}
	if err := c.Delete(ctx, cm, "default", "tmp-1"); err != nil {
		t.Fatal(err)
	}
}

// answers is a canonical dump of what the query service answers: every list of
// every kind across namespaces, every get, and every object's events.
func answers(t *testing.T, c *client.Client) string {
	t.Helper()
	quiet(t, c)
	ctx := context.Background()
	var buf bytes.Buffer
	for _, k := range object.Kinds() {
		objs, _, err := c.Query.List(ctx, k, "", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			st, err := c.Query.Get(ctx, k, o.GetNamespace(), o.GetName())
			if err != nil {
				t.Fatal(err)
			}
			evs, err := c.Query.Events(ctx, k, o.GetNamespace(), o.GetName(), 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []any{o, st.Object, string(st.LastApplied), evs} {
				data, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				buf.Write(data)
				buf.WriteByte('\n')
			}
		}
	}
	// A deleted object answers NotFound with the version of its deletion.
	cm, _ := object.ByKind("ConfigMap")
	_, err := c.Query.Get(ctx, cm, "default", "tmp-1")
	var nf *query.NotFoundError
	if !errors.As(err, &nf) || nf.Version == 0 {
		t.Fatalf("get of a deleted object = %v, want NotFound with a version", err)
	}
	fmt.Fprintf(&buf, "%s at %d\n", nf, nf.Version)
	return buf.String()
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	srv := startIn(t, dir)
	c := connect(t, srv)
	populate(t, c)
	before := answers(t, c)
	lastSeq, err := srv.Log().LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	srv.Shutdown()

	srv = startIn(t, dir)
	c = connect(t, srv)
	if after := answers(t, c); after != before {
		t.Errorf("answers changed across a restart:\n%s", answersDiff(before, after))
	}
	if seq, _ := srv.Log().LastSeq(context.Background()); seq != lastSeq {
		t.Errorf("restart appended %d events (the default namespace exists already):%s", seq-lastSeq, appendedSince(t, srv, lastSeq))
	}
	if !strings.Contains(before, `"name":"web","namespace":"shop"`) || !strings.Contains(before, `"replicas":5`) {
		t.Fatalf("the dump misses the scaled deployment:\n%s", before)
	}
}

func TestDeletedProjectionIsRebuiltOnRestart(t *testing.T) {
	dir := t.TempDir()
	srv := startIn(t, dir)
	c := connect(t, srv)
	populate(t, c)
	before := answers(t, c)
	c.Close()
	srv.Shutdown()

	projection := filepath.Join(dir, "projections", "query")
	if _, err := os.Stat(projection); err != nil {
		t.Fatalf("the query projection is not at %s: %v", projection, err)
	}
	if err := os.RemoveAll(projection); err != nil {
		t.Fatal(err)
	}
	srv = startIn(t, dir)
	c = connect(t, srv)
	if after := answers(t, c); after != before {
		t.Errorf("answers after rebuilding from the log differ:\n%s", answersDiff(before, after))
	}
}

func TestReplayRebuildsToTheSameAnswers(t *testing.T) {
	srv := startIn(t, t.TempDir())
	c := connect(t, srv)
	populate(t, c)
	before := answers(t, c)
	last, err := srv.Log().LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"query", "namespaces"} {
		req, _ := json.Marshal(map[string]string{"name": name})
		msg, err := c.NC.Request(controlplane.SubjectProjectionReplay, req, time.Minute)
		if err != nil {
			t.Fatalf("replay %s: %v", name, err)
		}
		var res controlplane.ReplayResult
		if err := json.Unmarshal(msg.Data, &res); err != nil {
			t.Fatal(err)
		}
		if res.Error != "" || res.Name != name || res.Events != last {
			t.Errorf("replay %s = %+v, want %d events and no error", name, res, last)
		}
	}
	if after := answers(t, c); after != before {
		t.Errorf("answers after replay differ:\n%s", answersDiff(before, after))
	}
	// The rebuilt projections still follow the log.
	cm, _ := object.ByKind("ConfigMap")
	if err := c.Delete(context.Background(), cm, "default", "settings"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query.Get(context.Background(), cm, "default", "settings"); err == nil {
		t.Error("a delete after replay is not visible")
	}
}

// TestShutdownStopsEverything: after Shutdown no goroutine of the server is left,
// and its port is free.
func TestShutdownStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := startIn(t, t.TempDir())
	c := connect(t, srv)
	populate(t, c)
	w, watchDone := context.WithCancel(context.Background())
	deploy, _ := object.ByKind("Deployment")
	stopped, listed := make(chan error, 1), make(chan struct{})
	go func() {
		stopped <- c.Watch(w, deploy, "", "", func([]object.Object) error { close(listed); return nil },
			func(string, object.Object) error { return nil })
	}()
	<-listed
	watchDone()
	if err := <-stopped; err != nil {
		t.Errorf("watch: %v", err)
	}
	url := srv.ClientURL()
	c.Close()
	srv.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before Start, %d after Shutdown:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
	if _, err := client.Connect(url, ""); err == nil {
		t.Errorf("%s still accepts connections after Shutdown", url)
	}
}

// quiet waits until the log has stopped growing for 1.5 s: the
// controllers, the scheduler and the dispatcher have reacted to everything.
// appendedSince names the events after seq: type, subject, actor and reason.
func appendedSince(t *testing.T, srv *controlplane.Server, seq uint64) string {
	t.Helper()
	cur, err := srv.Log().Read(context.Background(), events.ReadOptions{From: seq + 1, Bounded: true})
	if err != nil {
		return err.Error()
	}
	defer cur.Close()
	var b strings.Builder
	for {
		rec, err := cur.Next(context.Background())
		if err != nil {
			return b.String()
		}
		ev, err := rec.Decode()
		if err != nil {
			fmt.Fprintf(&b, "\n  #%d: %v", rec.Seq, err)
			continue
		}
		fmt.Fprintf(&b, "\n  #%d %s %s by %s: %s", rec.Seq, ev.Type, ev.Object, ev.Actor, ev.Reason)
	}
}

func quiet(t *testing.T, c *client.Client) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	last, _ := c.Log.LastSeq(ctx)
	stable := time.Now()
	for time.Since(stable) < 1500*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatal("the log kept growing for 15 s")
		}
		time.Sleep(50 * time.Millisecond)
		if seq, _ := c.Log.LastSeq(ctx); seq != last {
			last, stable = seq, time.Now()
		}
	}
}

func TestWebEndpointsServeAndStop(t *testing.T) {
	srv := startIn(t, t.TempDir())
	url := srv.HTTPURL()
	if url == "" {
		t.Fatal("no web endpoint address")
	}
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("GET /healthz = %d %q", resp.StatusCode, body)
	}
	srv.Shutdown()
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("the web endpoints still answer after Shutdown")
	}
}

func TestBusyHTTPAddressIsAClearError(t *testing.T) {
	first := startIn(t, t.TempDir())
	addr := strings.TrimPrefix(first.HTTPURL(), "http://")
	_, err := controlplane.Start(context.Background(), controlplane.Config{DataDir: t.TempDir(), Port: -1, HTTPAddr: addr, Logger: discard})
	if err == nil || !strings.Contains(err.Error(), "--http") {
		t.Fatalf("second server on %s: err = %v, want one naming --http", addr, err)
	}
}

// answersDiff is a unified diff of two answers dumps, one line per object or list.
func answersDiff(before, after string) string {
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(before), B: difflib.SplitLines(after),
		FromFile: "before", ToFile: "after", Context: 1})
	return d
}
