package ingress

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// backend is an HTTP server on loopback answering its name and the Host it saw.
func backend(t *testing.T, name string) (ip string, port int32) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", name, r.Host, r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(s.Close)
	h, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return h, int32(n)
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int32 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	n, _ := strconv.Atoi(p)
	return int32(n)
}

// loopSlice is a slice whose endpoints differ by port only (all on 127.0.0.1):
// the slice format has one port per name, so each endpoint gets its own slice.
func loopSlices(svc string, ports ...int32) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for i, p := range ports {
		out = append(out, slice(svc, fmt.Sprintf("%s-%d", svc, i), map[string]int32{"": p}, ep{"127.0.0.1", nil}))
	}
	return out
}

func get(t *testing.T, c *http.Client, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxyRoutesBalancesRetriesAndFollowsUpdates(t *testing.T) {
	_, a := backend(t, "a")
	_, b := backend(t, "b")
	_, c := backend(t, "c")
	dead := closedPort(t)
	p, err := NewProxy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bound, stop, err := p.Listen(ctx, "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	url := "http://" + bound[0]
	hc := &http.Client{Timeout: 5 * time.Second}

	if code, body := get(t, hc, url+"/", "web.test"); code != 404 || body != "default backend - 404\n" {
		t.Fatalf("before any Ingress: %d %q, want 404", code, body)
	}
	snap := Snapshot{
		Ingresses: []*networkingv1.Ingress{ing("web", 1, "", rule{"web.test", "/", prefix, "web"}, rule{"web.test", "/missing", prefix, "missing"})},
		Services:  map[string]*corev1.Service{"default/web": service("web", corev1.ServicePort{Port: 80})},
		Slices:    map[string][]*discoveryv1.EndpointSlice{"default/web": loopSlices("web", a, dead, b)},
	}
	p.Update(snap)
	seen := map[string]int{}
	for range 9 {
		code, body := get(t, hc, url+"/x", "web.test")
		if code != 200 {
			t.Fatalf("GET web.test/x: %d %q", code, body)
		}
		seen[body[:1]]++
		if want := " web.test 127.0.0.1"; body[1:] != want {
			t.Fatalf("backend saw %q, want the client's Host and X-Forwarded-For (%q)", body[1:], want)
		}
	}
	// Three endpoints in rotation, the dead one's turns retried on the next:
	// a gets its own turns and the dead one's.
	if seen["a"]+seen["b"] != 9 || seen["a"] == 0 || seen["b"] == 0 {
		t.Fatalf("requests by backend %v: want all answered by a and b", seen)
	}
	if code, body := get(t, hc, url+"/missing", "web.test"); code != 503 || body != "503 Service Unavailable: service default/missing (of ingress default/web) does not exist\n" {
		t.Fatalf("missing service: %d %q", code, body)
	}
	if code, _ := get(t, hc, url+"/", "other.test"); code != 404 {
		t.Fatalf("unknown host: %d, want 404", code)
	}

	// The endpoints change: only c from now on.
	snap.Slices = map[string][]*discoveryv1.EndpointSlice{"default/web": loopSlices("web", c)}
	p.Update(snap)
	for range 3 {
		if _, body := get(t, hc, url+"/", "web.test"); body[:1] != "c" {
			t.Fatalf("after the update: %q, want c", body)
		}
	}
	// No endpoint ready: 503.
	snap.Slices = nil
	p.Update(snap)
	if code, _ := get(t, hc, url+"/", "web.test"); code != 503 {
		t.Fatalf("without endpoints: %d, want 503", code)
	}
	// Another class is left alone.
	other := "nginx"
	snap.Ingresses[0].Spec.IngressClassName = &other
	snap.Classes = map[string]*networkingv1.IngressClass{"nginx": class("nginx", "k8s.io/ingress-nginx", false, 0)}
	snap.Slices = map[string][]*discoveryv1.EndpointSlice{"default/web": loopSlices("web", c)}
	p.Update(snap)
	if code, _ := get(t, hc, url+"/", "web.test"); code != 404 {
		t.Fatalf("an Ingress of another class was served: %d", code)
	}
}

// selfSignedPEM makes a certificate for hosts, as the TLS Secret of a test.
func selfSignedPEM(t testing.TB, hosts ...string) (crt, key []byte, pool *x509.CertPool) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
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

func TestProxyTerminatesTLSBySNI(t *testing.T) {
	_, a := backend(t, "a")
	fooCrt, fooKey, fooPool := selfSignedPEM(t, "foo.test")
	barCrt, barKey, barPool := selfSignedPEM(t, "*.bar.test")
	secrets := map[string]*corev1.Secret{
		"default/foo-tls": {Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": fooCrt, "tls.key": fooKey}},
		"default/bar-tls": {Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": barCrt, "tls.key": barKey}},
		"default/opaque":  {Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"tls.crt": fooCrt, "tls.key": fooKey}},
	}
	p, err := NewProxy(func(ns, name string) (*corev1.Secret, error) {
		if s := secrets[ns+"/"+name]; s != nil {
			return s, nil
		}
		return nil, fmt.Errorf("secret %s/%s not found", ns, name)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	i := ing("web", 1, "web", rule{"foo.test", "/", prefix, "web"})
	i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"foo.test"}, SecretName: "foo-tls"},
		{Hosts: []string{"*.bar.test"}, SecretName: "bar-tls"}, {Hosts: []string{"plain.test"}, SecretName: "opaque"}}
	p.Update(Snapshot{Ingresses: []*networkingv1.Ingress{i},
		Services: map[string]*corev1.Service{"default/web": service("web", corev1.ServicePort{Port: 80})},
		Slices:   map[string][]*discoveryv1.EndpointSlice{"default/web": loopSlices("web", a)}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bound, stop, err := p.Listen(ctx, "", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client := func(pool *x509.CertPool, sni string) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: sni}}}
	}
	if code, body := get(t, client(fooPool, "foo.test"), "https://"+bound[0]+"/", "foo.test"); code != 200 || body[:1] != "a" {
		t.Fatalf("https foo.test: %d %q", code, body)
	}
	if code, _ := get(t, client(barPool, "x.bar.test"), "https://"+bound[0]+"/", "x.bar.test"); code != 200 {
		t.Fatalf("https x.bar.test through the default backend: %d", code)
	}
	// A name no entry covers, and an entry whose Secret is not of type
	// kubernetes.io/tls, get the default certificate, which a client that
	// trusts only foo's refuses.
	for _, sni := range []string{"other.test", "plain.test"} {
		conn, err := tls.Dial("tcp", bound[0], &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("dial %s: %v", sni, err)
		}
		cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName
		conn.Close()
		if cn != "wake ingress default certificate" {
			t.Errorf("SNI %s was answered by %q, want the default certificate", sni, cn)
		}
	}
}
