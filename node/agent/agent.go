// Package agent is the node agent: it registers its Node, reads only its own inbox
// (ev.node.<node>.>), runs the pods assigned to it on containerd, applies their
// restart policy, and reports their status into the same inbox.
//
// By concern: agent.go configures and starts an agent, registration.go writes
// its Node, heartbeat.go keeps its heartbeat key fresh, adoption.go takes over
// (or removes) what an earlier agent left running, loop.go hands each assigned
// pod to its worker (worker.go), probe.go and hooks.go run its containers'
// probes and lifecycle hooks (through package probe), occurrences.go
// coalesces what they report, hostinfo.go reads the host facts the Node
// reports, clusterdns.go serves the cluster DNS and gives pods their
// resolv.conf (through package clusterdns), and proxy.go runs the service
// proxy (node/proxy) from the services projection (node/services).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/node/cni"
	"github.com/wake-run/wake/node/containerd"
	"github.com/wake-run/wake/node/ingress"
	"github.com/wake-run/wake/node/proxy"
	"github.com/wake-run/wake/node/runtime"
	crt "github.com/wake-run/wake/node/runtime/containerd"
	"github.com/wake-run/wake/node/services"
	"github.com/wake-run/wake/node/teardown"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
)

// Config of one agent. Several agents run on one machine with distinct NodeName,
// StateDir, Namespace, PodCIDR and Bridge.
type Config struct {
	NodeName  string
	Labels    map[string]string
	Taints    []corev1.Taint
	StateDir  string // agent state: projection, runtime, volumes (default /var/lib/wake/agent/<node>)
	Socket    string // containerd socket; "" starts a private containerd under StateDir
	Namespace string // containerd namespace (default "wake")
	PodCIDR   string // default 10.88.0.0/24
	Bridge    string // default wake0
	Logger    *slog.Logger
	// ClusterDomain is the cluster DNS domain (default cluster.local).
	ClusterDomain string
	// DNSUpstreams are the resolvers (host:port) the cluster DNS forwards
	// names outside the cluster domain to; nil: the node's /etc/resolv.conf.
	DNSUpstreams []string
	// DNSTTL is the TTL of the cluster DNS's answers (default 5 s).
	DNSTTL time.Duration
	// NoClusterDNS serves no cluster DNS: pods get the node's resolv.conf.
	NoClusterDNS bool
	// IngressHTTP and IngressHTTPS are the addresses the node's ingress proxy
	// listens on (`wake agent` defaults to :80 and :443); both "" runs no
	// ingress proxy.
	IngressHTTP, IngressHTTPS string
	// Metrics, when set, is where the agent registers its Prometheus metrics
	// (see metrics.go). `wake agent` serves its own registry; `wake up` passes
	// the server's, so one /metrics shows both.
	Metrics prometheus.Registerer
	// ProxyMode is the service proxy's: "nftables" (default) or "userspace"
	// (TCP in this process, for machines without nft); see node/proxy.
	ProxyMode string
	// ServiceCIDR holds the Services' ClusterIPs (default 10.96.0.0/16); the
	// host reaches it over the bridge.
	ServiceCIDR string
	// ProxySyncPeriod is how often the service rules are rewritten without a
	// change, so deleted rules come back (default 30s).
	ProxySyncPeriod time.Duration
}

// Agent is a running node agent.
type Agent struct {
	cfg     Config
	nc      *nats.Conn
	log     *events.Log
	query   *query.Client
	rt      runtime.Runtime
	runner  *projections.Runner
	logger  *slog.Logger
	hostIP  string
	metrics *metrics // nil: not measured
	// facetVersion learns the newest version of a facet subject (the log's; tests
	// replace it).
	facetVersion func(context.Context, events.Ref) (uint64, error)

	mu      sync.Mutex
	workers map[string]*worker
	touched map[string]bool
	wakeup  chan struct{}
	adopt   map[string][]runtime.ContainerStatus // pod uid -> containers found at start
	sandbox map[string]runtime.Sandbox           // pod uid -> sandbox found at start
	// unlock releases StateDir/agent.lock, held from Start to the end of Run
	// so that `wake down` refuses to stop pods this agent would restart.
	unlock func()

	subs        []*nats.Subscription // responders, from Start until Run returns
	serveCancel context.CancelFunc   // ends the streams the responders run

	// config folds the cluster's ConfigMaps and Secrets (sealed) for the pods'
	// env and volumes; secretCache holds the Secrets opened for them, in memory
	// only; configChanged are the ones changed since the run loop last looked
	// (see markConfigUsers).
	config        *projections.Runner
	secretCache   secretCache
	configChanged []events.Ref

	dns nodeDNS

	// services folds the cluster's Services and EndpointSlices for the
	// service proxy; servicesChanged wakes the proxy's loop (see proxy.go).
	services        *projections.Runner
	proxy           *proxy.Proxy
	servicesChanged chan struct{}

	// ingress folds what the ingress proxy routes by (nil: no proxy); see
	// ingresssource.go.
	ingress      *projections.Runner
	ingressProxy *ingress.Proxy
	ingressStop  func()
	ingressAddrs []string
	ingressWake  chan struct{}
}

// Run starts the runtime (and containerd if needed), registers the node, and runs
// the assigned pods until ctx ends. On return the pods keep running, to be adopted
// by the next agent on this node.
func Run(ctx context.Context, nc *nats.Conn, cfg Config) error {
	a, err := Start(ctx, nc, cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// Start prepares the agent: containerd (started if none answers), the pod network,
// the runtime, the node's responders (answering when Start returns), the node's
// registration, and an inventory of what still runs. Run must follow: the
// responders stop, and StateDir/agent.lock is released, when it returns. Start
// fails when another process holds that lock; before the first start on a
// state directory it records the host settings the pod network changes (see
// teardown.RecordHost).
func Start(ctx context.Context, nc *nats.Conn, cfg Config) (a *Agent, err error) {
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		cfg.NodeName = strings.ToLower(h)
	}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join("/var/lib/wake/agent", cfg.NodeName)
	}
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = "10.88.0.0/24"
	}
	if cfg.Bridge == "" {
		cfg.Bridge = "wake0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = proxy.DefaultServiceCIDR
	}
	if cfg.ProxySyncPeriod <= 0 {
		cfg.ProxySyncPeriod = proxy.DefaultSyncPeriod
	}
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return nil, fmt.Errorf("agent state directory: %w", err)
	}
	unlock, err := teardown.Lock(filepath.Join(cfg.StateDir, teardown.AgentLock))
	if err != nil {
		return nil, fmt.Errorf("agent state directory %s: %w: stop it, or give this agent another --state-dir", cfg.StateDir, err)
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	if err := teardown.RecordHost(ctx, cfg.StateDir); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("agent metrics: %w", err)
	}
	log, err := events.NewLog(nc, "", m.logOptions()...)
	if err != nil {
		return nil, err
	}
	a = &Agent{cfg: cfg, nc: nc, unlock: unlock, log: log, query: query.NewClient(nc), logger: cfg.Logger.With("node", cfg.NodeName), metrics: m,
		workers: map[string]*worker{}, touched: map[string]bool{}, wakeup: make(chan struct{}, 1),
		adopt: map[string][]runtime.ContainerStatus{}, sandbox: map[string]runtime.Sandbox{}, servicesChanged: make(chan struct{}, 1)}
	a.facetVersion = log.SubjectVersion
	socket := cfg.Socket
	if socket == "" {
		d, err := containerd.Ensure(ctx, containerd.Config{StateDir: filepath.Join(cfg.StateDir, "containerd")})
		if err != nil {
			return nil, err
		}
		socket = d.Socket
	}
	network, err := cni.New(cni.Config{BridgeName: cfg.Bridge, Subnet: cfg.PodCIDR, IPMasq: true,
		CacheDir: filepath.Join(cfg.StateDir, "cni", "cache"), DataDir: filepath.Join(cfg.StateDir, "cni", "ipam")})
	if err != nil {
		return nil, err
	}
	a.hostIP = network.Gateway()
	a.rt, err = crt.New(ctx, crt.Config{Socket: socket, Namespace: cfg.Namespace, StateDir: filepath.Join(cfg.StateDir, "runtime"),
		Network: m.network(network), OnPull: m.pulled})
	if err != nil {
		return nil, err
	}
	a.runner, err = projections.Open(filepath.Join(cfg.StateDir, "projection"), Projection(cfg.NodeName), log,
		append(m.runnerOptions(), projections.WithLogger(a.logger), projections.WithTouched(a.onTouched))...)
	if err != nil {
		return nil, err
	}
	a.config, err = projections.Open(filepath.Join(cfg.StateDir, "config"), ConfigProjection(), log,
		append(m.runnerOptions(), projections.WithLogger(a.logger), projections.WithTouched(a.onConfigTouched))...)
	if err != nil {
		_ = a.runner.Close()
		return nil, err
	}
	a.proxy, err = proxy.New(proxy.Config{Node: cfg.NodeName, PodCIDR: cfg.PodCIDR, Bridge: cfg.Bridge, ServiceCIDR: cfg.ServiceCIDR,
		Mode: cfg.ProxyMode, StateDir: cfg.StateDir, Logger: a.logger})
	if err == nil {
		a.services, err = projections.Open(filepath.Join(cfg.StateDir, "services"), services.Projection(), log,
			append(m.runnerOptions(), projections.WithLogger(a.logger), projections.WithTouched(a.onServicesTouched))...)
	}
	if err == nil {
		err = a.startDNS(ctx)
	}
	if err == nil {
		err = a.startIngress(log, m.runnerOptions())
	}
	if err != nil {
		a.closeProjections()
		return nil, err
	}
	// The node's responders answer before the node is registered: whoever sees
	// the node can ask it for logs, exec and images at once.
	if err := a.serve(); err != nil {
		a.closeProjections()
		return nil, err
	}
	if err := a.register(ctx); err != nil {
		a.stopServing()
		a.closeProjections()
		return nil, err
	}
	if err := a.inventory(ctx); err != nil {
		a.stopServing()
		a.closeProjections()
		return nil, err
	}
	return a, nil
}

// closeProjections closes the agent's projections, stops its cluster DNS and
// its ingress proxy. Run calls it once every goroutine reading them has ended.
func (a *Agent) closeProjections() {
	for _, r := range []*projections.Runner{a.runner, a.config, a.services, a.ingress} {
		if r != nil {
			_ = r.Close()
		}
	}
	a.stopDNS()
	if a.ingressStop != nil {
		a.ingressStop()
	}
}

// serve subscribes the node's responders (images, logs, exec) and returns once
// the server has taken every subscription, so a request sent after it is
// answered. They answer until Run returns.
func (a *Agent) serve() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.serveCancel = cancel
	subs, err := a.serveImages(ctx, a.nc)
	if err == nil {
		a.subs = subs
		subs, err = a.serveStreams(ctx, a.nc)
		a.subs = append(a.subs, subs...)
	}
	if err == nil {
		err = a.nc.Flush()
	}
	if err != nil {
		a.stopServing()
		return fmt.Errorf("node %s: cannot answer requests: %w", a.cfg.NodeName, err)
	}
	return nil
}

// stopServing unsubscribes the node's responders and ends the streams they run.
func (a *Agent) stopServing() {
	for _, s := range a.subs {
		_ = s.Unsubscribe()
	}
	a.subs = nil
	if a.serveCancel != nil {
		a.serveCancel()
	}
}

func (a *Agent) actor() string { return "system:node:" + a.cfg.NodeName }

// NodeName is the node this agent runs.
func (a *Agent) NodeName() string { return a.cfg.NodeName }

func (a *Agent) containerID(sb *runtime.Sandbox, name string, attempt uint32) string {
	return crt.ContainerID(sb.ID, name, attempt)
}

// appendFacet appends an event to a pod's facet in this node's inbox, guarded by
// the facet's newest event. On a conflict it learns the newer version from the log
// and appends again, until it is stored or ctx ends: the agent's reports are whole
// snapshots, so a newer event on the facet does not change what they say.
func (a *Agent) appendFacet(ctx context.Context, ev *events.Event) error {
	delay := 10 * time.Millisecond
	for {
		version, err := a.facetVersion(ctx, ev.Object)
		if err != nil {
			return err
		}
		ev.Time = time.Now().UTC()
		_, err = a.log.Append(ctx, ev, version)
		if !errors.Is(err, events.ErrConflict) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (retrying ended: %w)", err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }
