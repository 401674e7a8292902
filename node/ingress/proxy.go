package ingress

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Snapshot is what the proxy routes by: the cluster's Ingresses (of every
// class: the proxy keeps wake's), IngressClasses by name, Services by
// namespace/name and their EndpointSlices by namespace/service.
type Snapshot struct {
	Ingresses []*networkingv1.Ingress
	Classes   map[string]*networkingv1.IngressClass
	Services  map[string]*corev1.Service
	Slices    map[string][]*discoveryv1.EndpointSlice
}

// SecretSource opens a Secret in clear text (the agent's nodeConfig.Secret).
type SecretSource func(namespace, name string) (*corev1.Secret, error)

// Proxy is the reverse proxy of one node: HTTP and HTTPS by the rules of
// wake's Ingresses, to the ready endpoints of their Services.
type Proxy struct {
	secrets     SecretSource
	logger      *slog.Logger
	state       atomic.Pointer[routing]
	rr          sync.Map // backend key -> *atomic.Uint64
	proxy       *httputil.ReverseProxy
	defaultCert *tls.Certificate

	certMu sync.Mutex
	certs  map[string]parsedCert // namespace/name of the Secret
}

type routing struct {
	table *Table
	tls   []TLSRef
	snap  Snapshot
}

type parsedCert struct {
	crt, key []byte
	cert     *tls.Certificate
}

// candidatesKey carries a request's endpoints, in the order to try them, to
// the transport's dialer.
type candidatesKey struct{}

// NewProxy returns a proxy that routes nothing until Update.
func NewProxy(secrets SecretSource, logger *slog.Logger) (*Proxy, error) {
	if logger == nil {
		logger = slog.Default()
	}
	def, err := selfSigned()
	if err != nil {
		return nil, fmt.Errorf("ingress default certificate: %w", err)
	}
	p := &Proxy{secrets: secrets, logger: logger, defaultCert: def, certs: map[string]parsedCert{}}
	p.state.Store(&routing{table: NewTable(nil)})
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		// The first candidate is the URL's host; when it refuses, the next
		// ready endpoint is dialled, so a request survives an endpoint that
		// went away between two updates.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			cands, _ := ctx.Value(candidatesKey{}).([]string)
			if len(cands) == 0 {
				cands = []string{addr}
			}
			var errs []error
			for _, c := range cands {
				conn, err := dialer.DialContext(ctx, network, c)
				if err == nil {
					return conn, nil
				}
				errs = append(errs, err)
				if ctx.Err() != nil {
					break
				}
			}
			return nil, errors.Join(errs...)
		},
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			cands, _ := r.In.Context().Value(candidatesKey{}).([]string)
			r.SetURL(&url.URL{Scheme: "http", Host: cands[0]})
			r.Out.Host = r.In.Host // the backend sees the host the client asked for
			r.SetXForwarded()
		},
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.logger.Warn("ingress: no endpoint answered", "host", r.Host, "path", r.URL.Path, "err", err)
			http.Error(w, "502 Bad Gateway: no endpoint of the backend answered", http.StatusBadGateway)
		},
	}
	return p, nil
}

// Update routes by s from now on; requests in flight finish on what they
// chose.
func (p *Proxy) Update(s Snapshot) {
	var ours []*networkingv1.Ingress
	for _, ing := range s.Ingresses {
		if ok, _ := Ours(ing, s.Classes); ok {
			ours = append(ours, ing)
		}
	}
	p.state.Store(&routing{table: NewTable(ours), tls: TLSRefs(ours), snap: s})
}

// ServeHTTP routes one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := p.state.Load()
	b, ok := st.table.Route(r.Host, r.URL.Path)
	if !ok {
		http.Error(w, "default backend - 404", http.StatusNotFound)
		return
	}
	svc := st.snap.Services[b.Namespace+"/"+b.Service]
	if svc == nil {
		http.Error(w, fmt.Sprintf("503 Service Unavailable: service %s/%s (of ingress %s) does not exist", b.Namespace, b.Service, b.Ingress), http.StatusServiceUnavailable)
		return
	}
	eps, err := Endpoints(svc, st.snap.Slices[b.Namespace+"/"+b.Service], b.Port)
	if err != nil {
		http.Error(w, "503 Service Unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	c, _ := p.rr.LoadOrStore(b.Key(), new(atomic.Uint64))
	start := int((c.(*atomic.Uint64).Add(1) - 1) % uint64(len(eps)))
	order := append(append([]string(nil), eps[start:]...), eps[:start]...)
	p.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), candidatesKey{}, order)))
}

// getCertificate answers a TLS hello with the certificate of the Ingress TLS
// entry that covers its server name, else the proxy's self-signed one.
func (p *Proxy) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	ref, ok := SelectTLS(p.state.Load().tls, hello.ServerName)
	if !ok {
		return p.defaultCert, nil
	}
	cert, err := p.certificate(ref)
	if err != nil {
		p.logger.Warn("ingress: TLS secret unusable, answering with the default certificate", "secret", ref.SecretKey(), "err", err)
		return p.defaultCert, nil
	}
	return cert, nil
}

// certificate loads the key pair of a kubernetes.io/tls Secret, parsed once
// per content.
func (p *Proxy) certificate(ref TLSRef) (*tls.Certificate, error) {
	if p.secrets == nil {
		return nil, errors.New("no secret source")
	}
	sec, err := p.secrets(ref.Namespace, ref.Secret)
	if err != nil {
		return nil, err
	}
	if sec.Type != corev1.SecretTypeTLS {
		return nil, fmt.Errorf("secret %s is of type %q; an Ingress needs type %s", ref.SecretKey(), sec.Type, corev1.SecretTypeTLS)
	}
	crt, key := sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]
	p.certMu.Lock()
	defer p.certMu.Unlock()
	if c, ok := p.certs[ref.SecretKey()]; ok && bytes.Equal(c.crt, crt) && bytes.Equal(c.key, key) {
		return c.cert, nil
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %s and %s: %w", ref.SecretKey(), corev1.TLSCertKey, corev1.TLSPrivateKeyKey, err)
	}
	p.certs[ref.SecretKey()] = parsedCert{crt: crt, key: key, cert: &pair}
	return &pair, nil
}

// Listen binds the HTTP and HTTPS addresses ("" leaves one out) and serves on
// them until ctx ends or the returned stop is called; it returns the bound
// addresses (a port 0 is chosen by the kernel).
func (p *Proxy) Listen(ctx context.Context, httpAddr, httpsAddr string) (bound []string, stop func(), err error) {
	var servers []*http.Server
	stop = func() {
		for _, s := range servers {
			c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.Shutdown(c)
			cancel()
		}
	}
	for _, a := range []struct {
		addr string
		tls  bool
	}{{httpAddr, false}, {httpsAddr, true}} {
		if a.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			stop()
			what := "HTTP"
			if a.tls {
				what = "HTTPS"
			}
			return nil, nil, fmt.Errorf("ingress %s port %s: %w (choose another with the agent's --ingress-http/--ingress-https, or \"\" to serve none)", what, a.addr, err)
		}
		s := &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(p.logger.Handler(), slog.LevelDebug)}
		if a.tls {
			s.TLSConfig = &tls.Config{GetCertificate: p.getCertificate, MinVersion: tls.VersionTLS12}
			ln = tls.NewListener(ln, s.TLSConfig)
		}
		servers = append(servers, s)
		bound = append(bound, ln.Addr().String())
		go func() { _ = s.Serve(ln) }()
	}
	done := make(chan struct{})
	var once sync.Once
	inner := stop
	stop = func() { once.Do(func() { close(done); inner() }) }
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-done:
		}
	}()
	return bound, stop, nil
}

// selfSigned makes the certificate the proxy answers a name no Ingress covers
// with.
func selfSigned() (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "wake ingress default certificate"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"ingress.local"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
