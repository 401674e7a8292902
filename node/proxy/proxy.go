// Package proxy is the service proxy of a node agent: it makes every
// Service's ClusterIP, node ports and external addresses reach the Service's
// endpoints, from the agent's services projection (node/services).
//
// Two modes: nftables (the default) programs one nftables table per node,
// "wake-<node>", laid out as kube-proxy's nftables mode (see nft.go),
// rewritten in one atomic transaction from the whole desired state on every
// change and every SyncPeriod, so a restarted agent, a deleted rule or a
// flushed table converge; stale UDP conntrack entries of removed endpoints
// are deleted. Userspace (for machines without nft) proxies TCP in this
// process (see userspace.go).
//
// The proxy's stop leaves the table: pods keep running and keep reaching
// their Services while the agent restarts, as kube-proxy leaves its rules.
// `wake down` deletes it (node/teardown, through the record in
// StateDir/proxy.json).
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/wake-run/wake/node/services"
	"github.com/wake-run/wake/node/teardown"
	"sigs.k8s.io/knftables"
)

// Modes.
const (
	ModeNFTables  = "nftables"
	ModeUserspace = "userspace"
)

// DefaultServiceCIDR is where the control plane allocates ClusterIPs unless
// told otherwise.
const DefaultServiceCIDR = "10.96.0.0/16"

// DefaultSyncPeriod is how often the rules are rewritten without a change.
const DefaultSyncPeriod = 30 * time.Second

// Config of a node's proxy.
type Config struct {
	Node        string
	PodCIDR     string
	Bridge      string
	ServiceCIDR string // routed over Bridge so that the host reaches service addresses
	Mode        string // ModeNFTables ("") or ModeUserspace
	StateDir    string // where the record for `wake down` is written
	Logger      *slog.Logger
}

// TableName is the nftables table (family ip) of a node's service rules.
func TableName(node string) string { return "wake-" + node }

// Proxy programs a node's service rules.
type Proxy struct {
	cfg Config
	log *slog.Logger
	be  backend

	mu   sync.Mutex
	prev map[string][]Endpoint // UDP port id -> endpoints at the last sync
}

type backend interface {
	sync(ctx context.Context, ports []Port) error
	close()
}

// New checks the mode and prepares the proxy; nothing changes on the host
// before the first Sync.
func New(cfg Config) (*Proxy, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = DefaultServiceCIDR
	}
	if _, err := netip.ParsePrefix(cfg.ServiceCIDR); err != nil {
		return nil, fmt.Errorf("service CIDR %q: %v (use an IPv4 prefix such as %s)", cfg.ServiceCIDR, err, DefaultServiceCIDR)
	}
	if _, err := netip.ParsePrefix(cfg.PodCIDR); err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %v", cfg.PodCIDR, err)
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger.With("component", "proxy"), prev: map[string][]Endpoint{}}
	switch cfg.Mode {
	case "", ModeNFTables:
		nft, err := knftables.New(knftables.IPv4Family, TableName(cfg.Node))
		if err != nil {
			return nil, fmt.Errorf("service proxy: %w (install nftables, or run the agent with --proxy-mode=%s)", err, ModeUserspace)
		}
		p.be = &nftBackend{nft: nft, cfg: cfg}
	case ModeUserspace:
		p.be = newUserspace(cfg, p.log)
	default:
		return nil, fmt.Errorf("proxy mode %q: use %s or %s", cfg.Mode, ModeNFTables, ModeUserspace)
	}
	return p, nil
}

// Sync makes the node's rules those of st.
func (p *Proxy) Sync(ctx context.Context, st *services.State) error {
	ports := Build(st, p.cfg.Node)
	start := time.Now()
	if err := p.be.sync(ctx, ports); err != nil {
		return err
	}
	p.log.Debug("service rules synced", "ports", len(ports), "took", time.Since(start))
	p.clearStaleUDP(ctx, ports)
	return nil
}

// Close stops what the proxy runs in this process (the userspace listeners);
// nftables rules stay (see the package comment).
func (p *Proxy) Close() { p.be.close() }

// clearStaleUDP deletes the conntrack entries of UDP flows to endpoints that
// are gone: UDP has no close, so they would keep sending to a dead address.
func (p *Proxy) clearStaleUDP(ctx context.Context, ports []Port) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := map[string][]Endpoint{}
	for i := range ports {
		pt := &ports[i]
		if pt.Protocol != "UDP" {
			continue
		}
		eps := append(append([]Endpoint{}, pt.Cluster...), pt.Local...)
		next[pt.ID()] = eps
		for _, old := range p.prev[pt.ID()] {
			if containsEndpoint(eps, old) {
				continue
			}
			for _, vip := range append([]string{pt.ClusterIP}, pt.External...) {
				p.conntrackDelete(ctx, "--orig-dst", vip, "--reply-src", old.IP)
			}
			if pt.NodePort != 0 {
				p.conntrackDelete(ctx, "--orig-port-dst", fmt.Sprint(pt.NodePort), "--reply-src", old.IP)
			}
		}
	}
	for id, eps := range p.prev {
		if _, ok := next[id]; !ok {
			for _, old := range eps {
				p.conntrackDelete(ctx, "--reply-src", old.IP, "--reply-port-src", fmt.Sprint(old.Port))
			}
		}
	}
	p.prev = next
}

func containsEndpoint(eps []Endpoint, e Endpoint) bool {
	for _, x := range eps {
		if x.IP == e.IP && x.Port == e.Port {
			return true
		}
	}
	return false
}

func (p *Proxy) conntrackDelete(ctx context.Context, args ...string) {
	if p.cfg.Mode == ModeUserspace {
		return
	}
	out, err := exec.CommandContext(ctx, "conntrack", append([]string{"-D", "-p", "udp"}, args...)...).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "0 flow entries") {
		p.log.Warn("delete stale UDP conntrack entries", "filter", strings.Join(args, " "), "err", err, "output", strings.TrimSpace(string(out)))
	}
}

type nftBackend struct {
	nft knftables.Interface
	cfg Config
}

func (b *nftBackend) sync(ctx context.Context, ports []Port) error {
	if err := teardown.RecordProxy(b.cfg.StateDir, teardown.ProxyRecord{Table: TableName(b.cfg.Node), Route: b.cfg.ServiceCIDR, Bridge: b.cfg.Bridge}); err != nil {
		return err
	}
	existing, err := b.nft.ListAll(ctx)
	if err != nil && !knftables.IsNotFound(err) {
		return fmt.Errorf("list table ip %s: %w", TableName(b.cfg.Node), err)
	}
	tx := b.nft.NewTransaction()
	Sync(tx, ports, b.cfg.PodCIDR, existing)
	if err := b.nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("write table ip %s: %w", TableName(b.cfg.Node), err)
	}
	return ensureRoute(ctx, b.cfg.ServiceCIDR, b.cfg.Bridge)
}

func (b *nftBackend) close() {}

// ensureRoute routes the service CIDR over the bridge, so the host reaches a
// service address from the bridge's own address (a local source the
// endpoints answer directly). Another node's proxy on this machine may have
// routed it already over its own bridge: that route serves as well. The
// bridge appears with the node's first pod; until then there is nothing to
// reach.
func ensureRoute(ctx context.Context, cidr, bridge string) error {
	out, err := exec.CommandContext(ctx, "ip", "-4", "route", "show", "exact", cidr).Output()
	if err != nil {
		return fmt.Errorf("ip route show %s: %w", cidr, err)
	}
	if strings.TrimSpace(string(out)) != "" {
		return nil
	}
	if _, err := exec.CommandContext(ctx, "ip", "link", "show", bridge).Output(); err != nil {
		return nil
	}
	if out, err := exec.CommandContext(ctx, "ip", "route", "add", cidr, "dev", bridge).CombinedOutput(); err != nil {
		return fmt.Errorf("ip route add %s dev %s: %v: %s", cidr, bridge, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// errUnsupported marks a Service port the userspace proxy cannot serve.
var errUnsupported = errors.New("not supported by the userspace proxy")
