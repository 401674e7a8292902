package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/dashboard"
)

// cluster is a control plane and a client of it.
type cluster struct {
	srv *controlplane.Server
	c   *client.Client
}

func startCluster(t *testing.T, workloads bool) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: t.TempDir(), Port: -1, NoWorkloadControllers: !workloads,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &cluster{srv: srv, c: c}
}

// apply writes a manifest as `wake apply` does.
func (cl *cluster) apply(t *testing.T, manifest string) {
	t.Helper()
	ds, err := object.Decode("test.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetNamespace(ds, "", false); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if _, err := cl.c.Write(context.Background(), &d, client.ModeApply); err != nil {
			t.Fatal(err)
		}
	}
}

var shopYAML = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
` + deploymentYAML("shop", "web", 2) + `---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: shop}
spec:
  containers: [{name: main, image: "busybox:1.36"}]
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: default}
spec:
  containers: [{name: main, image: "busybox:1.36"}]
`

// deploymentYAML is a Deployment of nginx with replicas pods labelled app=NAME.
func deploymentYAML(namespace, name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      containers: [{name: %[2]s, image: "nginx:1.25"}]
`, namespace, name, replicas)
}

// dashboardOf serves a dashboard of cl whose clock is three days ahead, so every
// age reads "3d".
func dashboardOf(t *testing.T, cl *cluster) *httptest.Server {
	t.Helper()
	later := time.Now().Add(72 * time.Hour)
	d, err := dashboard.New(cl.srv.Conn(), dashboard.WithClock(func() time.Time { return later }), dashboard.WithHeartbeat(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(d)
	t.Cleanup(func() {
		d.Close()
		ts.Close()
	})
	return ts
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func getTable(t *testing.T, url string) dashboard.Table {
	t.Helper()
	code, body := get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	var tb dashboard.Table
	if err := json.Unmarshal([]byte(body), &tb); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
	return tb
}

func TestTablesShowKubectlCells(t *testing.T) {
	cl := startCluster(t, false)
	cl.apply(t, shopYAML)
	ts := dashboardOf(t, cl)

	for _, tc := range []struct {
		path    string
		columns []string
		rows    [][]string
	}{
		{"/api/tables/pods?namespace=shop",
			[]string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"},
			[][]string{{"solo", "0/1", "Pending", "0", "3d", "<none>", "<none>"}}},
		{"/api/tables/pods",
			[]string{"NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"},
			[][]string{
				{"default", "other", "0/1", "Pending", "0", "3d", "<none>", "<none>"},
				{"shop", "solo", "0/1", "Pending", "0", "3d", "<none>", "<none>"},
			}},
		{"/api/tables/deployments?namespace=shop",
			[]string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "IMAGES"},
			[][]string{{"web", "0/2", "0", "0", "3d", "nginx:1.25"}}},
		{"/api/tables/namespaces",
			[]string{"NAME", "STATUS", "AGE"},
			[][]string{{"default", "Active", "3d"}, {"shop", "Active", "3d"}}},
		{"/api/tables/nodes",
			[]string{"NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "CPU", "MEMORY", "PODS"},
			nil},
		{"/api/tables/services?namespace=shop",
			[]string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"},
			nil},
	} {
		tb := getTable(t, ts.URL+tc.path)
		var rows [][]string
		for _, r := range tb.Rows {
			rows = append(rows, r.Cells)
		}
		if !reflect.DeepEqual(tb.Columns, tc.columns) || !reflect.DeepEqual(rows, tc.rows) {
			t.Errorf("GET %s:\ncolumns %q\nrows    %q\nwant\ncolumns %q\nrows    %q", tc.path, tb.Columns, rows, tc.columns, tc.rows)
		}
		if tb.Seq == 0 {
			t.Errorf("GET %s: seq 0, want the sequence the answer reflects", tc.path)
		}
	}
	tb := getTable(t, ts.URL+"/api/tables/deployments?namespace=shop")
	if r := tb.Rows[0].Rollout; r == nil || *r != (dashboard.Rollout{Desired: 2}) {
		t.Errorf("rollout of web = %+v, want desired 2 and nothing ready yet", r)
	}
	// A past view counts ages to its own moment, not to the (pinned) clock.
	past := getTable(t, fmt.Sprintf("%s/api/tables/namespaces?at=%d", ts.URL, tb.Seq))
	if past.Seq != tb.Seq || len(past.Rows) != 2 || past.Rows[1].Cells[2] == "3d" {
		t.Errorf("namespaces at %d: %+v, want ages at that moment (seconds), not 3d", tb.Seq, past)
	}
}

func TestBadParametersAnswer400(t *testing.T) {
	cl := startCluster(t, false)
	ts := dashboardOf(t, cl)
	for _, tc := range []struct{ path, want string }{
		{"/api/tables/secrets", `parameter resource="secrets": one of namespaces, nodes, deployments, pods, services, endpoints`},
		{"/api/tables/pods?namespace=Shop_1", `parameter namespace="Shop_1": a namespace name`},
		{"/api/tables/pods?at=yesterday", `parameter at="yesterday": a whole number from 0 to`},
		{"/api/events?limit=0", `parameter limit="0": a whole number from 1 to 1000`},
		{"/api/events?limit=5000", `parameter limit="5000": a whole number from 0 to 1000`},
		{"/api/stream?from=-1", `parameter from="-1": a whole number`},
		{"/api/logs?namespace=default", `parameter pod="": the name of a pod is required`},
		{"/api/logs?pod=x", `parameter namespace="": the pod's namespace is required`},
		{"/api/logs?namespace=default&pod=x&follow=maybe", `parameter follow="maybe": true or false`},
	} {
		code, body := get(t, ts.URL+tc.path)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d %q, want 400 containing %q", tc.path, code, body, tc.want)
		}
	}
	if code, _ := get(t, ts.URL+"/nope"); code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", code)
	}
}

// sseEvent is one parsed server-sent event.
type sseEvent struct{ typ, id, data string }

// readSSE parses events from body onto a channel until body ends.
func readSSE(body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		ev := sseEvent{typ: "message"}
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" || ev.id != "" {
					out <- ev
				}
				ev = sseEvent{typ: "message"}
			case strings.HasPrefix(line, "event: "):
				ev.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

func next(t *testing.T, evs <-chan sseEvent, typ string) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("stream ended before a %q event", typ)
			}
			if ev.typ == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event within 10s", typ)
		}
	}
}

func TestStreamDeliversAppendedEvents(t *testing.T) {
	cl := startCluster(t, false)
	ts := dashboardOf(t, cl)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/stream?namespace=shop", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q, want text/event-stream", ct)
	}
	evs := readSSE(resp.Body)
	var hello struct{ Seq uint64 }
	if err := json.Unmarshal([]byte(next(t, evs, "hello").data), &hello); err != nil {
		t.Fatal(err)
	}
	cl.apply(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: elsewhere, namespace: default}\nspec: {containers: [{name: m, image: x}]}\n")
	cl.apply(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\ndata: {a: b}\n")

	var got []dashboard.Event
	for len(got) < 2 {
		ev := next(t, evs, "message")
		var e dashboard.Event
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
			t.Fatal(err)
		}
		if ev.id == "" || e.Seq <= hello.Seq {
			t.Fatalf("event %s with id %q after hello at %d", ev.data, ev.id, hello.Seq)
		}
		got = append(got, e)
	}
	// The default namespace's pod is filtered out; the namespace shop (cluster-scoped) and its config map arrive.
	if got[0].Type != "namespace.created" || got[0].Name != "shop" || got[0].Resource != "namespaces" ||
		got[1].Type != "configmap.created" || got[1].Namespace != "shop" || got[1].Name != "cfg" || got[1].Resource != "configmaps" {
		t.Errorf("events %+v, want shop's namespace.created then configmap.created", got)
	}
	if got[1].Actor != cl.c.Actor {
		t.Errorf("actor %q, want %q", got[1].Actor, cl.c.Actor)
	}

	code, body := get(t, ts.URL+"/api/events?namespace=shop&limit=10")
	var list dashboard.EventList
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("GET /api/events: %d %s", code, body)
	}
	if len(list.Events) < 2 || list.Events[0].Seq != got[1].Seq || list.Events[1].Seq != got[0].Seq {
		t.Errorf("events list %+v, want newest first, starting with %d and %d", list.Events, got[1].Seq, got[0].Seq)
	}
}

func TestLogsOfAnUnscheduledPodSayWhy(t *testing.T) {
	cl := startCluster(t, false)
	cl.apply(t, shopYAML)
	ts := dashboardOf(t, cl)
	resp, err := http.Get(ts.URL + "/api/logs?namespace=shop&pod=solo&follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ev := next(t, readSSE(resp.Body), "failure"); ev.data != "pod solo is not scheduled yet" {
		t.Errorf("failure %q, want %q", ev.data, "pod solo is not scheduled yet")
	}
}

func TestShutdownEndsLiveStreams(t *testing.T) {
	cl := startCluster(t, false)
	if code, body := get(t, cl.srv.HTTPURL()+"/"); code != http.StatusOK || !strings.Contains(body, "<title>wake dashboard</title>") {
		t.Fatalf("GET / on the server = %d %.80q, want the page", code, body)
	}
	resp, err := http.Get(cl.srv.HTTPURL() + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := readSSE(resp.Body)
	next(t, evs, "hello")
	start := time.Now()
	cl.srv.Shutdown()
	for range evs {
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the stream ended %v after Shutdown, want at once", d)
	}
	if resp, err := http.Get(cl.srv.HTTPURL() + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("GET / after Shutdown = %d, want no answer", resp.StatusCode)
	}
}

// TestEventsMarkRejected: an event every fold rejects (a second creation of a
// config map) is listed as rejected, the events that took effect are not.
func TestEventsMarkRejected(t *testing.T) {
	cl := startCluster(t, false)
	ts := dashboardOf(t, cl)
	cl.apply(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: default}\ndata: {a: b}\n")
	ctx := context.Background()
	ref := events.Ref{Kind: "ConfigMap", Namespace: "default", Name: "cfg"}
	version, err := cl.c.Log.SubjectVersion(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "cfg", "namespace": "default", "uid": "forged"}})
	ev, err := events.New("configmap.created", ref, "user:admin", object.Change{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := cl.c.Log.Append(ctx, ev, version)
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, ts.URL+"/api/events?limit=10")
	var list dashboard.EventList
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("GET /api/events: %d %s", code, body)
	}
	for _, e := range list.Events {
		if (e.Seq == forged) != (e.Rejected != "") {
			t.Errorf("event %d (%s by %s) rejected = %q; only %d was rejected", e.Seq, e.Type, e.Actor, e.Rejected, forged)
		}
	}
	if len(list.Events) != 3 {
		t.Errorf("%d events listed, want 3", len(list.Events))
	}
}
