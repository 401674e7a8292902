package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/node/cni"
	crt "github.com/wake-run/wake/node/runtime/containerd"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/hostguard"
	corev1 "k8s.io/api/core/v1"
)

// metrics are what the agent knows about its own node, kept as it goes: a
// scrape reads counters and gauges only.
type metrics struct {
	events      *events.Metrics
	projections *projections.Metrics

	pods              *prometheus.GaugeVec
	phases            map[corev1.PodPhase]prometheus.Gauge
	restarts          prometheus.Counter
	pulls             *prometheus.CounterVec
	pullTime          prometheus.Histogram
	networkSetup      prometheus.Histogram
	heartbeatFailures prometheus.Counter
}

// newMetrics registers the agent's metrics in reg; nil reg measures nothing
// (every method is a no-op on a nil *metrics).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		pods: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wake_agent_pods",
			Help: "Pods this node's agent runs, by the phase it last reported for them.",
		}, []string{"phase"}),
		phases: map[corev1.PodPhase]prometheus.Gauge{},
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wake_agent_container_restarts_total",
			Help: "Containers the agent restarted after they exited (restart policy Always or OnFailure).",
		}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wake_agent_image_pulls_total",
			Help: "Image pulls from a registry (images already present are not pulled), by result (ok, error).",
		}, []string{"result"}),
		pullTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wake_agent_image_pull_seconds",
			Help:    "Time one image pull from a registry took, unpacking included.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 12), // 100ms .. 3.4min
		}),
		networkSetup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wake_agent_cni_setup_seconds",
			Help:    "Time CNI took to attach one pod's network namespace to the node's bridge (address, routes, port mappings).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12), // 5ms .. 10s
		}),
		heartbeatFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wake_agent_heartbeat_failures_total",
			Help: "Heartbeats the agent could not write to the heartbeat bucket; after the grace period the node is marked NotReady.",
		}),
	}
	for _, p := range []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed} {
		m.phases[p] = m.pods.WithLabelValues(string(p))
	}
	for _, c := range []prometheus.Collector{m.pods, m.restarts, m.pulls, m.pullTime, m.networkSetup, m.heartbeatFailures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	var err error
	if m.events, err = events.NewMetrics(reg); err != nil {
		return nil, err
	}
	if m.projections, err = projections.NewMetrics(reg); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) logOptions() []events.LogOption {
	if m == nil {
		return nil
	}
	return []events.LogOption{events.WithMetrics(m.events)}
}

func (m *metrics) runnerOptions() []projections.Option {
	if m == nil {
		return nil
	}
	return []projections.Option{projections.WithMetrics(m.projections)}
}

// phase moves one pod's count from the phase it was counted in (*counted, ""
// for none) to now ("" to stop counting it).
func (m *metrics) phase(counted *corev1.PodPhase, now corev1.PodPhase) {
	if m == nil || *counted == now {
		return
	}
	if g := m.phases[*counted]; g != nil {
		g.Dec()
	}
	if g := m.phases[now]; g != nil {
		g.Inc()
	}
	*counted = now
}

func (m *metrics) restarted() {
	if m != nil {
		m.restarts.Inc()
	}
}

func (m *metrics) pulled(_ string, took time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.pulls.WithLabelValues("error").Inc()
		return
	}
	m.pulls.WithLabelValues("ok").Inc()
	m.pullTime.Observe(took.Seconds())
}

func (m *metrics) heartbeatFailed() {
	if m != nil {
		m.heartbeatFailures.Inc()
	}
}

// network times the pod network's Setup calls (nil m: n itself).
func (m *metrics) network(n crt.Network) crt.Network {
	if m == nil {
		return n
	}
	return timedNetwork{n, m.networkSetup}
}

type timedNetwork struct {
	crt.Network
	setup prometheus.Observer
}

func (t timedNetwork) Setup(ctx context.Context, sandboxID, netnsPath, podName, podNamespace string, ports []cni.PortMapping) (string, error) {
	start := time.Now()
	ip, err := t.Network.Setup(ctx, sandboxID, netnsPath, podName, podNamespace, ports)
	if err == nil {
		t.setup.Observe(time.Since(start).Seconds())
	}
	return ip, err
}

// DefaultMetricsAddr is where `wake agent` serves /metrics unless told
// otherwise (the server's web endpoints take 4280, the dashboard 4281).
const DefaultMetricsAddr = "127.0.0.1:4282"

// MetricsServer serves a registry's /metrics over HTTP.
type MetricsServer struct {
	srv  *http.Server
	addr string
	done chan struct{}
}

// ServeMetrics serves g at http://addr/metrics until Close. "off" serves
// nothing and returns a nil server (whose Close does nothing).
func ServeMetrics(addr string, g prometheus.Gatherer) (*MetricsServer, error) {
	if addr == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agent /metrics on %s: %w (choose another address with --metrics-addr, or --metrics-addr off)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	s := &MetricsServer{srv: &http.Server{Handler: hostguard.Wrap(mux, addr, ln.Addr()), ReadHeaderTimeout: 10 * time.Second}, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// URL is the address of /metrics ("" on a nil server).
func (s *MetricsServer) URL() string {
	if s == nil {
		return ""
	}
	return "http://" + s.addr + "/metrics"
}

// Close stops serving and waits for the listener to end.
func (s *MetricsServer) Close() {
	if s == nil {
		return
	}
	_ = s.srv.Close()
	<-s.done
}
