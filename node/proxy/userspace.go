package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// The userspace proxy serves, in this process, what a machine without nft
// cannot have in the kernel. It supports TCP only:
//   - each ClusterIP is added to the node's bridge as a /32 address (the host
//     and the node's pods reach it there) and a listener on ClusterIP:port
//     forwards every connection to an endpoint, round robin, with
//     sessionAffinity ClientIP pinning a client for its timeout;
//   - a node port listens on every address of the node (0.0.0.0:nodePort);
//     external addresses the node holds listen on ip:port;
//   - a port without endpoints has no listener: connections are refused at
//     once.
//
// Not supported: UDP and SCTP ports, keeping the client's address
// (endpoints see the node's), internalTrafficPolicy and
// externalTrafficPolicy beyond choosing local endpoints. The addresses it
// added are removed when the proxy closes.
type userspace struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	listeners map[string]*listener // listen address -> listener
	addrs     map[string]bool      // ClusterIPs added to the bridge
	warned    map[string]bool
}

type listener struct {
	ln net.Listener

	mu       sync.Mutex
	eps      []Endpoint
	next     int
	affinity time.Duration
	pinned   map[string]pin // client IP
}

type pin struct {
	ep    Endpoint
	until time.Time
}

func newUserspace(cfg Config, log *slog.Logger) *userspace {
	return &userspace{cfg: cfg, log: log, listeners: map[string]*listener{}, addrs: map[string]bool{}, warned: map[string]bool{}}
}

type want struct {
	eps      []Endpoint
	affinity time.Duration
}

func (u *userspace) sync(ctx context.Context, ports []Port) error {
	wanted := map[string]want{}
	vips := map[string]bool{}
	for i := range ports {
		p := &ports[i]
		if p.Protocol != "TCP" {
			if !u.warned[p.ID()] {
				u.warned[p.ID()] = true
				u.log.Warn("service port not proxied", "port", p.ID(), "err", fmt.Errorf("%s %w (TCP only)", p.Protocol, errUnsupported))
			}
			continue
		}
		aff := time.Duration(p.Affinity) * time.Second
		vips[p.ClusterIP] = true
		if eps := p.Internal(); len(eps) > 0 {
			wanted[net.JoinHostPort(p.ClusterIP, fmt.Sprint(p.Port))] = want{eps, aff}
		}
		if eps := p.ExternalEndpoints(); len(eps) > 0 {
			if p.NodePort != 0 {
				wanted[net.JoinHostPort("0.0.0.0", fmt.Sprint(p.NodePort))] = want{eps, aff}
			}
			for _, ip := range p.External {
				wanted[net.JoinHostPort(ip, fmt.Sprint(p.Port))] = want{eps, aff}
			}
		}
	}
	var errs []error
	u.mu.Lock()
	defer u.mu.Unlock()
	for vip := range vips {
		if !u.addrs[vip] {
			if err := u.addAddress(ctx, vip); err != nil {
				errs = append(errs, err)
				continue
			}
			u.addrs[vip] = true
		}
	}
	for addr, l := range u.listeners {
		if _, ok := wanted[addr]; !ok {
			l.ln.Close()
			delete(u.listeners, addr)
		}
	}
	for vip := range u.addrs {
		if !vips[vip] {
			u.delAddress(vip)
			delete(u.addrs, vip)
		}
	}
	for addr, w := range wanted {
		l := u.listeners[addr]
		if l == nil {
			ln, err := net.Listen("tcp4", addr)
			if err != nil {
				errs = append(errs, fmt.Errorf("userspace proxy: listen on %s: %w", addr, err))
				continue
			}
			l = &listener{ln: ln, pinned: map[string]pin{}}
			u.listeners[addr] = l
			go l.serve(u.log)
		}
		l.mu.Lock()
		l.eps, l.affinity = w.eps, w.affinity
		l.mu.Unlock()
	}
	return errors.Join(errs...)
}

// addAddress puts vip on the bridge, creating the bridge if the node has no
// pod yet (the pod network adopts it).
func (u *userspace) addAddress(ctx context.Context, vip string) error {
	if _, err := exec.CommandContext(ctx, "ip", "link", "show", u.cfg.Bridge).Output(); err != nil {
		if out, err := exec.CommandContext(ctx, "ip", "link", "add", u.cfg.Bridge, "type", "bridge").CombinedOutput(); err != nil {
			return fmt.Errorf("userspace proxy: create bridge %s: %v: %s", u.cfg.Bridge, err, strings.TrimSpace(string(out)))
		}
		_ = exec.CommandContext(ctx, "ip", "link", "set", u.cfg.Bridge, "up").Run()
	}
	out, err := exec.CommandContext(ctx, "ip", "addr", "add", vip+"/32", "dev", u.cfg.Bridge).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "File exists") && !strings.Contains(string(out), "already assigned") {
		return fmt.Errorf("userspace proxy: add %s to %s: %v: %s", vip, u.cfg.Bridge, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (u *userspace) delAddress(vip string) {
	_ = exec.Command("ip", "addr", "del", vip+"/32", "dev", u.cfg.Bridge).Run()
}

func (u *userspace) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for addr, l := range u.listeners {
		l.ln.Close()
		delete(u.listeners, addr)
	}
	for vip := range u.addrs {
		u.delAddress(vip)
		delete(u.addrs, vip)
	}
}

func (l *listener) pick(client string) (Endpoint, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.eps) == 0 {
		return Endpoint{}, false
	}
	now := time.Now()
	if l.affinity > 0 {
		if p, ok := l.pinned[client]; ok && now.Before(p.until) && containsEndpoint(l.eps, p.ep) {
			l.pinned[client] = pin{p.ep, now.Add(l.affinity)}
			return p.ep, true
		}
	}
	ep := l.eps[l.next%len(l.eps)]
	l.next++
	if l.affinity > 0 {
		l.pinned[client] = pin{ep, now.Add(l.affinity)}
	}
	return ep, true
}

func (l *listener) serve(log *slog.Logger) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			client, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			ep, ok := l.pick(client)
			if !ok {
				return
			}
			up, err := net.DialTimeout("tcp4", ep.String(), 3*time.Second)
			if err != nil {
				log.Debug("userspace proxy: endpoint unreachable", "endpoint", ep, "err", err)
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(up, c)
				_ = up.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			_, _ = io.Copy(c, up)
			_ = c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}
