package projections

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wake-run/wake/events"
)

// Metrics exposes the runners given WithMetrics. Folding pays nothing for it
// beyond two atomic adds and one histogram observation per commit: the
// counters, checkpoint and lag are read from the runners when scraped, and the
// lag costs at most one stream-info request per Log per scrape (none while
// every runner is caught up), never one per event or per projection.
//
// Lag is in stream sequences: the stream's last sequence minus the
// checkpoint, or 0 once the runner has folded everything its consumer had to
// deliver (a projection that reads a subset of subjects is caught up although
// newer events of other subjects stand after its checkpoint).
type Metrics struct {
	folded, rejected, checkpoint, lag *prometheus.Desc
	commit                            *prometheus.HistogramVec

	mu      sync.Mutex
	runners []*Runner
}

// NewMetrics registers the projection metrics in reg. Several calls with the
// same registry return the same Metrics (as `wake up` does for its server and
// agent), so every projection of the process shows in one set.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	label := []string{"projection"}
	m := &Metrics{
		folded: prometheus.NewDesc("wake_projection_folded_events_total",
			"Events folded and committed into the projection by this process (rejections not included).", label, nil),
		rejected: prometheus.NewDesc("wake_projection_rejected_events_total",
			"Events the projection's fold refused (malformed, unknown or invalid); each is recorded and skipped.", label, nil),
		checkpoint: prometheus.NewDesc("wake_projection_checkpoint",
			"Stream sequence of the last event the projection committed.", label, nil),
		lag: prometheus.NewDesc("wake_projection_lag_sequences",
			"Stream sequences between the projection's checkpoint and the stream's last event; 0 once it has folded every event of its subjects.", label, nil),
		commit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wake_projection_commit_seconds",
			Help:    "Time to write one batch of folded events and its checkpoint to Pebble.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 4, 10), // 50µs .. 13s
		}, label),
	}
	err := reg.Register(m)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*Metrics); ok {
			return existing, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if err := reg.Register(m.commit); err != nil {
		return nil, err
	}
	return m, nil
}

// WithMetrics exposes the runner in m until it is closed.
func WithMetrics(m *Metrics) Option { return func(r *Runner) { r.metrics = m } }

func (m *Metrics) add(r *Runner) {
	m.mu.Lock()
	m.runners = append(m.runners, r)
	m.mu.Unlock()
}

func (m *Metrics) remove(r *Runner) {
	m.mu.Lock()
	m.runners = slices.DeleteFunc(m.runners, func(x *Runner) bool { return x == r })
	m.mu.Unlock()
}

// unknownHead marks a stream whose last sequence could not be read.
const unknownHead = ^uint64(0)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.folded
	ch <- m.rejected
	ch <- m.checkpoint
	ch <- m.lag
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	runners := slices.Clone(m.runners)
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	last := map[*events.Log]uint64{}
	seen := map[string]bool{}
	for _, r := range runners {
		if seen[r.p.Name] {
			continue // one series per name: a second runner of a name is not shown
		}
		seen[r.p.Name] = true
		cp := r.checkpoint.Load()
		ch <- prometheus.MustNewConstMetric(m.folded, prometheus.CounterValue, float64(r.foldedTotal.Load()), r.p.Name)
		ch <- prometheus.MustNewConstMetric(m.rejected, prometheus.CounterValue, float64(r.rejectedTotal.Load()), r.p.Name)
		ch <- prometheus.MustNewConstMetric(m.checkpoint, prometheus.GaugeValue, float64(cp), r.p.Name)
		lag := uint64(0)
		if !r.caughtUp.Load() {
			head, ok := last[r.log]
			if !ok {
				var err error
				if head, err = r.log.LastSeq(ctx); err != nil {
					head = unknownHead
				}
				last[r.log] = head
			}
			if head == unknownHead {
				continue // no lag without the stream's head: leave the series out
			}
			lag = head - min(cp, head)
		}
		ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, float64(lag), r.p.Name)
	}
}
