package reconcile

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics times the reconcile rounds of controllers. One Metrics serves every
// controller of a process; each controller takes its Timer once.
type Metrics struct {
	rounds *prometheus.HistogramVec
}

// NewMetrics registers the round histogram in reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{rounds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wake_reconcile_duration_seconds",
		Help:    "Time one reconcile round of a controller takes: reading its projection, deciding, and appending the decisions.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10), // 100µs .. 26s
	}, []string{"controller"})}
	if err := reg.Register(m.rounds); err != nil {
		return nil, err
	}
	return m, nil
}

// Timer returns the timer of controller's rounds. A nil Metrics gives a Timer
// that observes nothing.
func (m *Metrics) Timer(controller string) Timer {
	if m == nil {
		return Timer{}
	}
	return Timer{m.rounds.WithLabelValues(controller)}
}

// Timer observes the duration of one controller's rounds. The zero Timer
// observes nothing.
type Timer struct{ o prometheus.Observer }

// Since records a round that started at start: `defer t.Since(time.Now())`.
func (t Timer) Since(start time.Time) {
	if t.o != nil {
		t.o.Observe(time.Since(start).Seconds())
	}
}

// Instrument times the loop's rounds in m, labelled with the loop's name
// ("deployment controller" shows as deployment-controller).
func (l *Loop) Instrument(m *Metrics) {
	l.rounds = m.Timer(strings.ReplaceAll(l.name, " ", "-"))
}
