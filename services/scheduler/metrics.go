package scheduler

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts the scheduler's decisions and times how long pods wait for one.
type Metrics struct {
	latency       prometheus.Histogram
	bindings      prometheus.Counter
	unschedulable prometheus.Counter
}

// NewMetrics registers the scheduler's metrics in reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wake_scheduler_scheduling_latency_seconds",
			Help:    "Time from the scheduler first seeing a pod pending to the log storing its binding (waits while no node fits included).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1ms .. 4.4min
		}),
		bindings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wake_scheduler_bindings_total",
			Help: "Pods the scheduler bound to a node (bindings the log stored).",
		}),
		unschedulable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wake_scheduler_unschedulable_total",
			Help: "Unschedulable decisions the scheduler appended (a pod that fits no node, reported again only when the reason changes).",
		}),
	}
	for _, c := range []prometheus.Collector{m.latency, m.bindings, m.unschedulable} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Instrument records the service's decisions in m (before Run).
func (s *Service) Instrument(m *Metrics) { s.metrics = m }

// decided records one stored decision: a binding of a pod pending since since,
// or an unschedulable report when bound is false.
func (m *Metrics) decided(bound bool, since time.Time) {
	switch {
	case m == nil:
	case bound:
		m.bindings.Inc()
		m.latency.Observe(time.Since(since).Seconds())
	default:
		m.unschedulable.Inc()
	}
}
