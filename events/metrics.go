package events

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts a Log's appends. One Metrics serves any number of Logs; its
// counters live in the registry given to NewMetrics, so processes (and tests)
// that run several servers keep their figures apart by giving each its own
// registry.
type Metrics struct {
	appended  *prometheus.CounterVec
	conflicts *prometheus.CounterVec

	// children caches the label children per (actor, type), so an append costs
	// one map read and an atomic add.
	children sync.Map // appendKey -> *appendCounters
}

type appendKey struct{ actor, typ string }

type appendCounters struct{ appended, conflicts prometheus.Counter }

// NewMetrics registers the append counters in reg. Several calls with the same
// registry share the counters (as `wake up` does for its server and agent).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wake_events_appended_total",
			Help: "Events this process appended to the log and the server stored, by the appending actor and event type.",
		}, []string{"actor", "type"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wake_events_append_conflicts_total",
			Help: "Appends this process sent that the log refused because the guarded version had moved (the writer decides again), by actor and event type.",
		}, []string{"actor", "type"}),
	}
	var err error
	if m.appended, err = register(reg, m.appended); err != nil {
		return nil, err
	}
	if m.conflicts, err = register(reg, m.conflicts); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c in reg, or returns the equal collector registered before.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

func (m *Metrics) counters(ev *Event) *appendCounters {
	key := appendKey{ev.Actor, ev.Type}
	if c, ok := m.children.Load(key); ok {
		return c.(*appendCounters)
	}
	c := &appendCounters{
		appended:  m.appended.WithLabelValues(ev.Actor, ev.Type),
		conflicts: m.conflicts.WithLabelValues(ev.Actor, ev.Type),
	}
	actual, _ := m.children.LoadOrStore(key, c)
	return actual.(*appendCounters)
}

// observe counts the outcome of one append. A nil Metrics counts nothing.
func (m *Metrics) observe(ev *Event, err error) {
	if m == nil {
		return
	}
	switch {
	case err == nil:
		m.counters(ev).appended.Inc()
	case errors.Is(err, ErrConflict):
		m.counters(ev).conflicts.Inc()
	}
}

// LogOption configures a Log.
type LogOption func(*Log)

// WithMetrics counts the Log's appends in m.
func WithMetrics(m *Metrics) LogOption { return func(l *Log) { l.metrics = m } }
