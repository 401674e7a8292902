package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
)

// UserAgent is the User-Agent of HTTP and gRPC probes, as the kubelet's
// ("kube-probe/<major>.<minor>"): applications that filter probe traffic by
// it keep working.
const UserAgent = "kube-probe/1.32"

// maxOutput bounds what a probe reads of a body or a command's output, as
// the kubelet does (10 KiB).
const maxOutput = 10 << 10

// Prober runs actions. It is safe for concurrent use; one serves a node.
type Prober struct {
	client *http.Client
}

// New returns a Prober. Like the kubelet's, its HTTP client opens a new
// connection per probe (no keep-alive: a probe must see whether the server
// accepts connections), skips TLS verification for HTTPS, uses no proxy, and
// follows redirects only to the same host (a redirect elsewhere counts as
// the 3xx answer it is).
func New() *Prober {
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes check liveness, not identity, as the kubelet's
		Proxy:             nil,
	}
	return &Prober{client: &http.Client{Transport: tr, CheckRedirect: sameHostRedirects}}
}

func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 || req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	return nil
}

func (p *Prober) httpGet(ctx context.Context, g *corev1.HTTPGetAction, t Target) Result {
	portNum, err := port(g.Port, t)
	if err != nil {
		return failed("%v", err)
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.Parse(scheme + "://" + net.JoinHostPort(host(g.Host, t), strconv.Itoa(portNum)) + path)
	if err != nil {
		return failed("%v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return failed("%v", err)
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return failed("%v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	if resp.StatusCode >= http.StatusOK && resp.StatusCode < http.StatusBadRequest {
		return Result{OK: true, Message: string(body)}
	}
	return failed("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

func (p *Prober) tcp(ctx context.Context, s *corev1.TCPSocketAction, t Target) Result {
	portNum, err := port(s.Port, t)
	if err != nil {
		return failed("%v", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host(s.Host, t), strconv.Itoa(portNum)))
	if err != nil {
		return failed("%v", err)
	}
	_ = conn.Close()
	return Result{OK: true}
}

// exec runs the command in the container; a non-zero exit fails with the
// command's output as the message.
func (p *Prober) exec(ctx context.Context, cmd []string, t Target, timeout time.Duration) Result {
	if t.Exec == nil {
		return failed("cannot run %q: the container cannot exec", strings.Join(cmd, " "))
	}
	if len(cmd) == 0 {
		return failed("exec: no command")
	}
	out := &limited{max: maxOutput}
	code, err := t.Exec(ctx, cmd, out)
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return failed("command %q timed out after %s", strings.Join(cmd, " "), timeout)
	}
	if err != nil {
		return failed("%v", err)
	}
	if code != 0 {
		msg := out.String()
		if strings.TrimSpace(msg) == "" {
			msg = fmt.Sprintf("command %q exited with %d", strings.Join(cmd, " "), code)
		}
		return Result{Message: msg}
	}
	return Result{OK: true, Message: out.String()}
}

// grpc asks the standard health service (grpc.health.v1.Health/Check) of the
// pod for the probe's service ("" is the server as a whole), over plain
// HTTP/2 as the kubelet does.
func (p *Prober) grpc(ctx context.Context, g *corev1.GRPCAction, t Target, timeout time.Duration) Result {
	addr := net.JoinHostPort(t.IP, strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent(UserAgent))
	if err != nil {
		return failed("failed to connect service %q: %v", addr, err)
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		switch status.Code(err) {
		case codes.Unimplemented:
			return failed("this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", status.Convert(err).Message())
		case codes.DeadlineExceeded:
			return failed("timeout: health rpc did not complete within %s", timeout)
		}
		return failed("error: health rpc probe failed: %s", status.Convert(err).Message())
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return failed("service unhealthy (responded with %q)", resp.GetStatus().String())
	}
	return Result{OK: true}
}

// limited keeps the first max bytes written to it and discards the rest; the
// command's output and error streams may write at once.
type limited struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (l *limited) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(b[:min(room, len(b))])
	}
	return len(b), nil
}

func (l *limited) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
