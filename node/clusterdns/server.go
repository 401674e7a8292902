package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/wake-run/wake/projections"
	"golang.org/x/sys/unix"
)

// Config of a Server.
type Config struct {
	// Addr is host:port to serve on, UDP and TCP. The host need not be an
	// address of this machine yet (the bridge's gateway address appears with
	// the first pod): the sockets are bound with IP_FREEBIND.
	Addr string
	Zone Zone
	// Upstreams are the resolvers (host:port) names outside the zone are
	// forwarded to, in order; nil reads the node's /etc/resolv.conf.
	Upstreams []string
	// View reads the projection (projections.Runner.View).
	View func(fn func(rd projections.Reader, checkpoint uint64) error) error
	// Timeout of one upstream exchange (default 2 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Server serves the cluster DNS on one address until Close.
type Server struct {
	cfg     Config
	addr    string
	servers []*dns.Server
	done    sync.WaitGroup
}

// Addr is the address served, UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// UpstreamsFrom are the nameservers of a resolv.conf as host:port. Loopback
// resolvers (127.0.0.53) are kept: the agent, not the pod, asks them.
func UpstreamsFrom(h HostResolv) []string {
	var out []string
	for _, ns := range h.Nameservers {
		if ip := net.ParseIP(ns); ip != nil {
			out = append(out, net.JoinHostPort(ip.String(), "53"))
		}
	}
	return out
}

// Start binds cfg.Addr (UDP and TCP) and serves it. Every reply to a UDP
// query is truncated to the size the client advertised (512 bytes without
// EDNS0), with the TC bit set when records were left out, so the client
// asks again over TCP.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Upstreams == nil {
		if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			cfg.Upstreams = UpstreamsFrom(ParseResolvConf(string(b)))
		}
	}
	lc := net.ListenConfig{Control: freebind}
	pc, err := lc.ListenPacket(ctx, "udp4", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("cluster DNS on %s/udp: %w", cfg.Addr, err)
	}
	tcpAddr := cfg.Addr
	if host, port, err := net.SplitHostPort(cfg.Addr); err == nil && port == "0" {
		// Port 0 (tests): TCP takes the port UDP was given.
		tcpAddr = net.JoinHostPort(host, fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
	}
	ln, err := lc.Listen(ctx, "tcp4", tcpAddr)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("cluster DNS on %s/tcp: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, addr: pc.LocalAddr().String()}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: ln, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		s.servers = append(s.servers, srv)
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			if err := srv.ActivateAndServe(); err != nil {
				cfg.Logger.Warn("cluster DNS stopped", "addr", cfg.Addr, "err", err)
			}
		}()
		<-started
	}
	return s, nil
}

// freebind lets a socket bind an address the machine does not have yet.
func freebind(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1) }); err != nil {
		return err
	}
	return serr
}

// Close stops serving and returns once the sockets are closed.
func (s *Server) Close() error {
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown())
	}
	s.done.Wait()
	return errors.Join(errs...)
}

// ServeDNS implements dns.Handler: names of the zone are answered from the
// projection, others forwarded.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	var resp *dns.Msg
	if len(req.Question) == 1 && s.cfg.Zone.Contains(req.Question[0].Name) {
		err := s.cfg.View(func(rd projections.Reader, checkpoint uint64) error {
			resp = s.cfg.Zone.Answer(rd, uint32(checkpoint), req, s.lookup)
			return nil
		})
		if err != nil {
			s.cfg.Logger.Warn("cluster DNS: read the projection", "err", err)
			resp = new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		}
	} else {
		resp = s.forward(req)
	}
	size := dns.MaxMsgSize
	if udp {
		size = dns.MinMsgSize
	}
	if opt := req.IsEdns0(); opt != nil {
		if udp {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		if resp.IsEdns0() == nil {
			resp.SetEdns0(uint16(max(size, dns.MinMsgSize)), false)
		}
	}
	resp.Truncate(size)
	_ = w.WriteMsg(resp)
}

// forward asks the upstreams in order, over TCP when a UDP answer came
// truncated. No upstream answering is SERVFAIL.
func (s *Server) forward(req *dns.Msg) *dns.Msg {
	for _, up := range s.cfg.Upstreams {
		resp, err := s.exchange(req, up)
		if err != nil {
			s.cfg.Logger.Debug("cluster DNS: upstream", "upstream", up, "err", err)
			continue
		}
		resp.Id = req.Id
		return resp
	}
	return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
}

func (s *Server) exchange(req *dns.Msg, upstream string) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: s.cfg.Timeout, UDPSize: dns.DefaultMsgSize}
	resp, _, err := c.Exchange(req, upstream)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.Exchange(req, upstream)
	}
	return resp, err
}

// lookup resolves an ExternalName's target through the upstreams.
func (s *Server) lookup(name string, qtype uint16) (*dns.Msg, error) {
	req := new(dns.Msg).SetQuestion(name, qtype)
	resp := s.forward(req)
	if resp.Rcode == dns.RcodeServerFailure {
		return nil, fmt.Errorf("%s: no upstream resolver answered", name)
	}
	return resp, nil
}
