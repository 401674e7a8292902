package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDashboardCommandServesThePageUntilStopped(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	root := NewRoot(w, io.Discard)
	root.SetArgs([]string{"dashboard", "--addr", "127.0.0.1:0", "--server", h.srv.ClientURL(), "--credentials", h.srv.AdminCredentials()})
	done := make(chan error, 1)
	go func() {
		done <- root.ExecuteContext(ctx)
		w.Close()
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("wake dashboard printed nothing: %v", <-done)
	}
	first := lines.Text()
	go io.Copy(io.Discard, out)
	i := strings.Index(first, "http://")
	if !strings.HasPrefix(first, "dashboard of nats://127.0.0.1:") || i < 0 {
		t.Fatalf("first line %q, want \"dashboard of SERVER at URL\"", first)
	}
	url := first[i:]
	resp, err := http.Get(url + "api/tables/deployments")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"web"`) {
		t.Errorf("GET %sapi/tables/deployments = %d %s, want the deployment web", url, resp.StatusCode, body)
	}
	// DNS rebinding protection: a request naming another host is refused.
	req, _ := http.NewRequest("GET", url+"api/tables/deployments", nil)
	req.Host = "evil.example" + url[strings.LastIndex(url, ":"):len(url)-1]
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET with Host %s = %d, want 421", req.Host, resp.StatusCode)
	}
	stream, err := http.Get(url + "api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("wake dashboard returned %v after its context ended, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wake dashboard did not stop within 5s of its context ending (with a live stream open)")
	}
	_, _ = io.Copy(io.Discard, stream.Body) // ended by the command, or this hangs
}
