package agent_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wake-run/wake/cli"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The ingress and port-forward tests run on node-g (pod CIDR 10.66.25.0/24,
// bridge wke2eg).
func startIngressCluster(t *testing.T) *cluster {
	cl := startClusterWith(t, 0, "node-g", "10.66.25.0/24", "wke2eg")
	importDemo(t, cl)
	return cl
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeSlice writes an EndpointSlice of a selector-less Service by hand, as
// its user would: one port (unnamed) and ready endpoints.
// TODO(after merge): the endpoints controller writes them for selector
// Services; switch these tests to selector Services then.
func writeSlice(t *testing.T, cl *cluster, name, svc string, port int32, ips ...string) {
	t.Helper()
	writeNamedSlice(t, cl, name, svc, "", port, ips...)
}

// selfSignedCert is a certificate and key for host, PEM-encoded, and a pool
// that trusts it.
func selfSignedCert(t *testing.T, host string) (crt, key []byte, pool *x509.CertPool) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), pool
}

// hostGet asks url with the Host header host; code 0 is a transport error.
func hostGet(c *http.Client, url, host string) (int, string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func waitRunningPods(t *testing.T, cl *cluster, app string, n int) []*corev1.Pod {
	t.Helper()
	var pods []*corev1.Pod
	eventually(t, app+" pods running", 90*time.Second, func() bool {
		pods = pods[:0]
		for _, p := range cl.pods("app=" + app) {
			if running(p) && p.Status.PodIP != "" {
				pods = append(pods, p)
			}
		}
		return len(pods) == n
	})
	return pods
}

func TestIngressRoutesHostsPathsAndTLSToEndpoints(t *testing.T) {
	cl := startIngressCluster(t)
	httpAddr, httpsAddr := freeAddr(t), freeAddr(t)
	cl.stopAgent()
	cl.cfg.IngressHTTP, cl.cfg.IngressHTTPS = httpAddr, httpsAddr
	cl.startAgent()

	cl.apply(deployment("alpha", "", 1, 1))
	cl.apply(deployment("beta", "", 2, 1))
	crt, key, pool := selfSignedCert(t, "alpha.test")
	cl.apply(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: alpha-tls}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
---
apiVersion: v1
kind: Service
metadata: {name: alpha}
spec: {ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: beta}
spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  tls: [{hosts: [alpha.test], secretName: alpha-tls}]
  rules:
  - host: alpha.test
    http:
      paths:
      - {path: /, pathType: Exact, backend: {service: {name: alpha, port: {number: 80}}}}
      - {path: /healthz, pathType: Prefix, backend: {service: {name: beta, port: {name: http}}}}
  - host: beta.test
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: beta, port: {number: 80}}}}]
`, base64.StdEncoding.EncodeToString(crt), base64.StdEncoding.EncodeToString(key)))
	alpha := waitRunningPods(t, cl, "alpha", 1)
	beta := waitRunningPods(t, cl, "beta", 2)
	writeSlice(t, cl, "alpha-1", "alpha", 8080, alpha[0].Status.PodIP)
	// beta's slice port is unnamed while its Service port is named http: the
	// slice port must carry the name.
	writeSlice(t, cl, "beta-1", "beta", 8080, beta[0].Status.PodIP, beta[1].Status.PodIP)
	hc := &http.Client{Timeout: 5 * time.Second}
	base := "http://" + httpAddr

	last := ""
	defer func() {
		if t.Failed() {
			t.Logf("alpha.test last answered %s", last)
		}
	}()
	eventually(t, "alpha.test answers from alpha's pod", 20*time.Second, func() bool {
		code, body := hostGet(hc, base+"/", "alpha.test")
		last = fmt.Sprint(code, " ", body)
		return code == 200 && body == alpha[0].Name
	})
	// beta's Service port is named; a slice port without the name does not
	// serve it: 503 until the slice names the port.
	if code, body := hostGet(hc, base+"/", "beta.test"); code != 503 || !strings.Contains(body, "no ready endpoints for port http") {
		t.Fatalf("beta.test with an unnamed slice port: %d %q, want 503", code, body)
	}
	writeNamedSlice(t, cl, "beta-1", "beta", "http", 8080, beta[0].Status.PodIP, beta[1].Status.PodIP)
	seen := map[string]int{}
	eventually(t, "beta.test answers from both of beta's pods", 20*time.Second, func() bool {
		code, body := hostGet(hc, base+"/", "BETA.test:80")
		if code == 200 {
			seen[body]++
		}
		return seen[beta[0].Name] > 0 && seen[beta[1].Name] > 0
	})
	if len(seen) != 2 {
		t.Fatalf("beta.test answered from %v, want only beta's pods", seen)
	}

	// A path rule: alpha.test/healthz goes to beta (its pods log the request),
	// alpha.test/ to alpha; an unknown path of an Exact rule is not routed.
	if code, body := hostGet(hc, base+"/healthz", "alpha.test"); code != 200 || body != "ok" {
		t.Fatalf("alpha.test/healthz: %d %q", code, body)
	}
	eventually(t, "beta's pod logs the path rule's request", 10*time.Second, func() bool {
		return podLogHas(t, cl, beta[0].Name, "GET /healthz") || podLogHas(t, cl, beta[1].Name, "GET /healthz")
	})
	if podLogHas(t, cl, alpha[0].Name, "GET /healthz") {
		t.Fatal("alpha's pod served the path rule's request")
	}
	if code, body := hostGet(hc, base+"/other", "alpha.test"); code != 404 || body != "default backend - 404" {
		t.Fatalf("alpha.test/other: %d %q, want the default backend's 404", code, body)
	}
	// Unknown host, no default backend: 404.
	if code, body := hostGet(hc, base+"/", "nobody.test"); code != 404 || body != "default backend - 404" {
		t.Fatalf("unknown host: %d %q, want 404", code, body)
	}

	// HTTPS with the Secret's certificate, chosen by SNI.
	tc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "alpha.test"}}}
	if code, body := hostGet(tc, "https://"+httpsAddr+"/", "alpha.test"); code != 200 || body != alpha[0].Name {
		t.Fatalf("https alpha.test: %d %q", code, body)
	}

	// The address in get ing, and wake's default class.
	k, _ := object.ByKind("Ingress")
	eventually(t, "the Ingress's status names the node's address", 10*time.Second, func() bool {
		st, err := cl.c.Query.Get(context.Background(), k, "default", "web")
		if err != nil {
			return false
		}
		lb := st.Object.(*networkingv1.Ingress).Status.LoadBalancer.Ingress
		return len(lb) == 1 && lb[0].IP == "10.66.25.1"
	})
	ck, _ := object.ByKind("IngressClass")
	if st, err := cl.c.Query.Get(context.Background(), ck, "", "wake"); err != nil ||
		st.Object.(*networkingv1.IngressClass).Spec.Controller != "wake.run/ingress-controller" {
		t.Fatalf("wake's IngressClass: %v", err)
	}

	// Live endpoint change: beta's slice shrinks to one pod, then gains an
	// endpoint that refuses (alpha's pod on a closed port, in its own slice):
	// every request still answers, from beta[0] only.
	writeNamedSlice(t, cl, "beta-1", "beta", "http", 8080, beta[0].Status.PodIP)
	eventually(t, "beta.test follows the slice to one pod", 10*time.Second, func() bool {
		for range 4 {
			if _, body := hostGet(hc, base+"/", "beta.test"); body != beta[0].Name {
				return false
			}
		}
		return true
	})
	writeNamedSlice(t, cl, "beta-2", "beta", "http", 8081, alpha[0].Status.PodIP)
	time.Sleep(500 * time.Millisecond)
	for i := range 6 {
		if code, body := hostGet(hc, base+"/", "beta.test"); code != 200 || body != beta[0].Name {
			t.Fatalf("request %d with a refusing endpoint: %d %q, want beta[0] after a retry", i, code, body)
		}
	}

	// An agent started again at once binds the same ports and routes from
	// its projection.
	cl.stopAgent()
	cl.startAgent()
	if code, body := hostGet(&http.Client{Timeout: 5 * time.Second}, base+"/", "alpha.test"); code != 200 || body != alpha[0].Name {
		t.Fatalf("alpha.test after the agent restarted: %d %q", code, body)
	}
}

// writeNamedSlice is writeSlice with a named port.
func writeNamedSlice(t *testing.T, cl *cluster, name, svc, portName string, port int32, ips ...string) {
	t.Helper()
	k, _ := object.ByKind("EndpointSlice")
	st, err := cl.c.Query.Get(context.Background(), k, "default", name)
	var version uint64
	var nf *query.NotFoundError
	verb := object.Updated
	switch {
	case errors.As(err, &nf):
		verb, version = object.Created, nf.Version
	case err != nil:
		t.Fatal(err)
	default:
		version = st.Version
	}
	ready := true
	s := discoveryv1.EndpointSlice{TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-slice-" + name), Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &port}}}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	raw, _ := json.Marshal(s)
	ev, _ := events.New(object.EventType(k, verb), events.Ref{Kind: "EndpointSlice", Namespace: "default", Name: name}, "user:test", &object.Change{Object: raw})
	if _, err := cl.c.Log.Append(context.Background(), ev, version); err != nil {
		t.Fatalf("write EndpointSlice %s: %v", name, err)
	}
}

func podLogHas(t *testing.T, cl *cluster, pod, text string) bool {
	var buf bytes.Buffer
	if err := cl.c.Logs(context.Background(), client.LogsOptions{Namespace: "default", Pod: pod, Tail: -1}, &buf); err != nil {
		t.Logf("logs of %s: %v", pod, err)
		return false
	}
	return strings.Contains(buf.String(), text)
}

// syncWriter is a writer several goroutines print to.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestPortForwardServesLocalConnections(t *testing.T) {
	cl := startIngressCluster(t)
	cl.apply(deployment("fwd", "", 1, 1) + `---
apiVersion: v1
kind: Service
metadata: {name: fwd}
spec:
  selector: {app: fwd}
  ports: [{name: web, port: 80, targetPort: 8080}]
`)
	pods := waitRunningPods(t, cl, "fwd", 1)

	for _, target := range []struct{ target, port string }{{"pod/" + pods[0].Name, ":8080"}, {"deploy/fwd", "0:8080"}, {"svc/fwd", ":80"}} {
		t.Run(target.target, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			ready := make(chan []int, 1)
			out, errOut := &syncWriter{}, &syncWriter{}
			done := make(chan error, 1)
			go func() {
				done <- cli.PortForward(ctx, cl.c, cli.PortForwardOptions{Namespace: "default", Target: target.target,
					Ports: []string{target.port}, Ready: ready}, out, errOut)
			}()
			var port int
			select {
			case ports := <-ready:
				port = ports[0]
			case err := <-done:
				cancel()
				t.Fatalf("port-forward %s: %v", target.target, err)
			case <-time.After(20 * time.Second):
				cancel()
				t.Fatal("port-forward did not listen")
			}
			if want := fmt.Sprintf("Forwarding from 127.0.0.1:%d -> 8080\n", port); !strings.HasPrefix(out.String(), want) {
				t.Errorf("output %q, want it to begin with %q", out.String(), want)
			}
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			// The first request retries while the server in the pod starts
			// listening (it has no readiness probe): count from after it.
			if body := httpGet(t, url); body != pods[0].Name {
				t.Fatalf("GET %s through port-forward: %q, want %q", url, body, pods[0].Name)
			}
			handling := fmt.Sprintf("Handling connection for %d\n", port)
			before, errsBefore := strings.Count(out.String(), handling), len(errOut.String())
			// Two connections at once: both held open, then both asked.
			c1, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			c2, err := net.Dial("tcp", fmt.Sprintf("[::1]:%d", port))
			if err != nil {
				c2, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []net.Conn{c2, c1} {
				fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			}
			for i, c := range []net.Conn{c1, c2} {
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				b, err := io.ReadAll(c)
				c.Close()
				if err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 200 OK") || !strings.HasSuffix(string(b), pods[0].Name+"\n") {
					t.Fatalf("connection %d: %v %q", i, err, b)
				}
			}
			if n := strings.Count(out.String(), handling) - before; n != 2 {
				t.Errorf("output %q: %d connections handled, want 2", out.String(), n)
			}
			// A connection left open when the command is interrupted is closed,
			// and the command returns.
			open, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer open.Close()
			fmt.Fprintf(open, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // keep-alive: the server keeps it
			buf := make([]byte, 512)
			_ = open.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := open.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "200 OK") {
				t.Fatalf("open connection: %v %q", err, buf[:n])
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("port-forward ended with %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("port-forward did not return after its context ended")
			}
			_ = open.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := open.Read(buf); !errors.Is(err, io.EOF) {
				t.Fatalf("the open connection after cancel: %v, want EOF", err)
			}
			if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				t.Fatal("the local port still listens after cancel")
			}
			if e := errOut.String()[errsBefore:]; e != "" {
				t.Errorf("stderr: %q", e)
			}
		})
	}

	// A port nothing listens on in the pod: the connection's error names it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan []int, 1)
	errOut := &syncWriter{}
	go func() {
		_ = cli.PortForward(ctx, cl.c, cli.PortForwardOptions{Namespace: "default", Target: pods[0].Name, Ports: []string{":9999"}, Ready: ready}, io.Discard, errOut)
	}()
	port := (<-ready)[0]
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("a refused forward should close the local connection: %v", err)
	}
	c.Close()
	eventually(t, "the refusal is reported", 5*time.Second, func() bool {
		return strings.Contains(errOut.String(), "error forwarding port 9999 to pod "+pods[0].Name) && strings.Contains(errOut.String(), "connection refused")
	})
}
