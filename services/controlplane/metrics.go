package controlplane

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/query"
	"github.com/wake-run/wake/services/reconcile"
	"github.com/wake-run/wake/services/scheduler"
)

// metrics are the server's Prometheus metrics, in a registry of its own: several
// servers in one process (tests start many) keep their figures apart.
//
// Pods by phase and nodes by readiness come from a query.Census fed by the
// query projection's touched hook: the query projection is the only one that
// folds pods' status as their nodes report it, and the census rereads only
// what each commit touched, so a scrape reads gauges and nothing else.
type metrics struct {
	reg         *prometheus.Registry
	events      *events.Metrics
	projections *projections.Metrics
	reconcile   *reconcile.Metrics
	scheduler   *scheduler.Metrics
	census      *query.Census
}

func newMetrics() (*metrics, error) {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	if m.events, err = events.NewMetrics(m.reg); err != nil {
		return nil, err
	}
	if m.projections, err = projections.NewMetrics(m.reg); err != nil {
		return nil, err
	}
	if m.reconcile, err = reconcile.NewMetrics(m.reg); err != nil {
		return nil, err
	}
	if m.scheduler, err = scheduler.NewMetrics(m.reg); err != nil {
		return nil, err
	}
	if m.census, err = query.NewCensus(m.reg); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Metrics is the registry behind the server's /metrics. A node agent running in
// the same process (`wake up`) registers its metrics here, so one endpoint shows
// both.
func (s *Server) Metrics() *prometheus.Registry { return s.metrics.reg }
