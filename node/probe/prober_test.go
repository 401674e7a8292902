package probe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// hostPort splits a test server's URL into the IP and port a probe targets.
func hostPort(t testing.TB, u string) (string, int32) {
	t.Helper()
	h, p, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, int32(n)
}

func TestHTTPGet(t *testing.T) {
	var seen http.Header
	var seenHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, seenHost = r.Header.Clone(), r.Host
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "fine")
		case "/redirect-here":
			http.Redirect(w, r, "/fail", http.StatusFound)
		case "/redirect-away":
			http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
		case "/not-modified":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tls.Close()
	ip, port := hostPort(t, srv.URL)
	_, tlsPort := hostPort(t, tls.URL)
	target := Target{Container: "web", IP: ip, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}}}
	p := New()
	get := func(path string, port intstr.IntOrString) *corev1.HTTPGetAction {
		return &corev1.HTTPGetAction{Path: path, Port: port}
	}
	tests := []struct {
		name   string
		action *corev1.HTTPGetAction
		ok     bool
		msg    string
	}{
		{"200 by port number", get("/ok", intstr.FromInt32(port)), true, "fine"},
		{"200 by the port's name", get("/ok", intstr.FromString("http")), true, "fine"},
		{"304 is a success (2xx-3xx)", get("/not-modified", intstr.FromInt32(port)), true, ""},
		{"500 fails in the kubelet's words", get("/boom", intstr.FromInt32(port)), false, "HTTP probe failed with statuscode: 500"},
		{"a redirect on the same host is followed", get("/redirect-here", intstr.FromInt32(port)), false, "HTTP probe failed with statuscode: 500"},
		{"a redirect to another host is the 302 it is", get("/redirect-away", intstr.FromInt32(port)), true, ""},
		{"an unknown port name fails naming it", get("/ok", intstr.FromString("admin")), false, `port "admin" is not the name of a port of container web`},
		{"HTTPS without verifying the certificate", &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(tlsPort), Scheme: corev1.URISchemeHTTPS}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.Run(context.Background(), Action{HTTPGet: tt.action}, target, time.Second)
			if r.OK != tt.ok || (tt.msg != "" && r.Message != tt.msg) {
				t.Errorf("got %+v, want ok=%v message %q", r, tt.ok, tt.msg)
			}
		})
	}
	t.Run("headers: User-Agent, Host and httpHeaders", func(t *testing.T) {
		a := get("/ok", intstr.FromInt32(port))
		a.HTTPHeaders = []corev1.HTTPHeader{{Name: "Host", Value: "svc.example"}, {Name: "X-Probe", Value: "1"}}
		if r := p.Run(context.Background(), Action{HTTPGet: a}, target, time.Second); !r.OK {
			t.Fatal(r.Message)
		}
		if seenHost != "svc.example" || seen.Get("X-Probe") != "1" || seen.Get("User-Agent") != UserAgent || seen.Get("Accept") != "*/*" {
			t.Errorf("host %q headers %v", seenHost, seen)
		}
	})
	t.Run("refused connection fails with the dial error", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		_, closed := hostPort(t, "http://"+l.Addr().String())
		l.Close()
		r := p.Run(context.Background(), Action{HTTPGet: get("/", intstr.FromInt32(closed))}, target, time.Second)
		if r.OK || !strings.Contains(r.Message, "connection refused") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("timeoutSeconds bounds a slow answer", func(t *testing.T) {
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Second) }))
		defer slow.Close()
		sip, sport := hostPort(t, slow.URL)
		start := time.Now()
		r := p.Run(context.Background(), Action{HTTPGet: get("/", intstr.FromInt32(sport))}, Target{IP: sip}, 200*time.Millisecond)
		if r.OK || time.Since(start) > time.Second || !strings.Contains(r.Message, "deadline exceeded") {
			t.Errorf("got %+v after %s", r, time.Since(start))
		}
	})
}

func TestTCPSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ip, port := hostPort(t, "http://"+l.Addr().String())
	p := New()
	a := Action{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}}
	if r := p.Run(context.Background(), a, Target{IP: ip}, time.Second); !r.OK {
		t.Errorf("open port: %+v", r)
	}
	l.Close()
	if r := p.Run(context.Background(), a, Target{IP: ip}, time.Second); r.OK || !strings.Contains(r.Message, "connection refused") {
		t.Errorf("closed port: %+v", r)
	}
}

func TestExec(t *testing.T) {
	p := New()
	var ran []string
	target := Target{Exec: func(ctx context.Context, cmd []string, out io.Writer) (int, error) {
		ran = cmd
		switch cmd[0] {
		case "ok":
			return 0, nil
		case "say":
			fmt.Fprint(out, "cat: can't open '/tmp/healthy': No such file or directory\n")
			return 1, nil
		case "silent":
			return 2, nil
		case "hang":
			<-ctx.Done()
			return -1, ctx.Err()
		}
		return -1, fmt.Errorf("exec: %q: executable file not found in $PATH", cmd[0])
	}}
	tests := []struct {
		cmd []string
		ok  bool
		msg string
	}{
		{[]string{"ok"}, true, ""},
		{[]string{"say", "x"}, false, "cat: can't open '/tmp/healthy': No such file or directory\n"},
		{[]string{"silent"}, false, `command "silent" exited with 2`},
		{[]string{"hang"}, false, `command "hang" timed out after 100ms`},
		{[]string{"nope"}, false, `exec: "nope": executable file not found in $PATH`},
	}
	for _, tt := range tests {
		r := p.Run(context.Background(), Action{Exec: &corev1.ExecAction{Command: tt.cmd}}, target, 100*time.Millisecond)
		if r.OK != tt.ok || r.Message != tt.msg || strings.Join(ran, " ") != strings.Join(tt.cmd, " ") {
			t.Errorf("%v: got %+v (ran %v), want ok=%v %q", tt.cmd, r, ran, tt.ok, tt.msg)
		}
	}
}

func TestGRPC(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(l)
	defer srv.Stop()
	bare := grpc.NewServer()
	lb, _ := net.Listen("tcp", "127.0.0.1:0")
	go bare.Serve(lb)
	defer bare.Stop()
	ip, port := hostPort(t, "http://"+l.Addr().String())
	_, barePort := hostPort(t, "http://"+lb.Addr().String())
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	p := New()
	svc := func(s string) *string { return &s }
	tests := []struct {
		name   string
		action corev1.GRPCAction
		ok     bool
		msg    string
	}{
		{"the server serves", corev1.GRPCAction{Port: port}, true, ""},
		{"a service not serving", corev1.GRPCAction{Port: port, Service: svc("db")}, false, `service unhealthy (responded with "NOT_SERVING")`},
		{"a server without the health service", corev1.GRPCAction{Port: barePort}, false,
			"this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"},
	}
	for _, tt := range tests {
		r := p.Run(context.Background(), Action{GRPC: &tt.action}, Target{IP: ip}, time.Second)
		if r.OK != tt.ok || r.Message != tt.msg {
			t.Errorf("%s: got %+v, want ok=%v %q", tt.name, r, tt.ok, tt.msg)
		}
	}
}

func TestEmptyAction(t *testing.T) {
	if r := New().Run(context.Background(), Action{}, Target{}, time.Second); r.OK || r.Message == "" {
		t.Errorf("got %+v", r)
	}
}
