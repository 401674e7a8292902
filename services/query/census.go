package query

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
)

// Census keeps the number of pods in each phase and of nodes by readiness, as
// Prometheus gauges. It reads the query projection (the one projection that folds
// pods' status from their nodes) once at start, then only the pods and nodes each
// commit touched: a scrape reads gauges, and a fold pays only for the touched
// hook's slice append. The rereads run on the census's own goroutine.
type Census struct {
	runner *projections.Runner
	pods   *prometheus.GaugeVec
	nodes  *prometheus.GaugeVec

	mu      sync.Mutex
	changed []events.Ref
	wakeup  chan struct{}

	// Owned by Run: what each object was counted as ("" : not counted).
	counted map[events.Ref]string
	gauges  map[census]prometheus.Gauge
}

// census is one gauge: a pod phase or a node readiness.
type census struct{ kind, value string }

// NewCensus registers the gauges in reg; pass Touched to the query runner with
// projections.WithTouched, then Attach the runner and Run.
func NewCensus(reg prometheus.Registerer) (*Census, error) {
	c := &Census{
		pods: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wake_pods",
			Help: "Pods in the cluster by phase (Pending, Running, Succeeded, Failed, Unknown), as the query projection has folded them.",
		}, []string{"phase"}),
		nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wake_nodes",
			Help: "Registered nodes by their Ready condition (True, False, Unknown).",
		}, []string{"ready"}),
		wakeup:  make(chan struct{}, 1),
		counted: map[events.Ref]string{},
		gauges:  map[census]prometheus.Gauge{},
	}
	for _, p := range []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown} {
		c.gauge(census{"Pod", string(p)})
	}
	for _, s := range []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown} {
		c.gauge(census{"Node", string(s)})
	}
	for _, g := range []prometheus.Collector{c.pods, c.nodes} {
		if err := reg.Register(g); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Attach sets the runner folding Projection().
func (c *Census) Attach(r *projections.Runner) { c.runner = r }

// Touched records the objects a commit changed. It never blocks.
func (c *Census) Touched(refs []events.Ref, _ uint64) {
	c.mu.Lock()
	c.changed = append(c.changed, refs...)
	c.mu.Unlock()
	select {
	case c.wakeup <- struct{}{}:
	default:
	}
}

// Run counts every pod and node once, then recounts what each commit touched,
// until ctx ends.
func (c *Census) Run(ctx context.Context) {
	var all []events.Ref
	_ = c.runner.View(func(rd projections.Reader, _ uint64) error {
		for _, kind := range []string{"Pod", "Node"} {
			k, _ := object.ByKind(kind)
			prefix := scopePrefix('o', k, "")
			err := rd.Scan(prefix, false, func(key, _ []byte) bool {
				ref := events.Ref{Kind: kind, Name: string(key[len(prefix):])}
				if k.Namespaced {
					ref.Namespace, ref.Name, _ = strings.Cut(ref.Name, "\x00")
				}
				all = append(all, ref)
				return true
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	c.Touched(all, 0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wakeup:
		}
		c.mu.Lock()
		refs := c.changed
		c.changed = nil
		c.mu.Unlock()
		c.recount(refs)
	}
}

// recount rereads the pods and nodes among refs and moves their counts.
func (c *Census) recount(refs []events.Ref) {
	seen := map[events.Ref]bool{}
	_ = c.runner.View(func(rd projections.Reader, _ uint64) error {
		for _, ref := range refs {
			ref = ref.Object()
			if (ref.Kind != "Pod" && ref.Kind != "Node") || seen[ref] {
				continue
			}
			seen[ref] = true
			k, _ := object.ByKind(ref.Kind)
			raw, ok, err := rd.Get(objectKey('o', k, ref.Namespace, ref.Name))
			if err != nil {
				return err
			}
			now := ""
			if ok {
				now = classify(ref.Kind, raw)
			}
			if was := c.counted[ref]; was != now {
				if was != "" {
					c.gauge(census{ref.Kind, was}).Dec()
				}
				if now != "" {
					c.gauge(census{ref.Kind, now}).Inc()
					c.counted[ref] = now
				} else {
					delete(c.counted, ref)
				}
			}
		}
		return nil
	})
}

func (c *Census) gauge(k census) prometheus.Gauge {
	g, ok := c.gauges[k]
	if !ok {
		if k.kind == "Pod" {
			g = c.pods.WithLabelValues(k.value)
		} else {
			g = c.nodes.WithLabelValues(k.value)
		}
		c.gauges[k] = g
	}
	return g
}

// classify returns a stored pod's phase or a stored node's Ready status, reading
// only those fields of the stored JSON.
func classify(kind string, raw []byte) string {
	var st struct {
		Object struct {
			Status struct {
				Phase      string `json:"phase"`
				Conditions []struct {
					Type   string `json:"type"`
					Status string `json:"status"`
				} `json:"conditions"`
			} `json:"status"`
		} `json:"object"`
	}
	if json.Unmarshal(raw, &st) != nil {
		return string(corev1.PodUnknown)
	}
	if kind == "Pod" {
		if st.Object.Status.Phase == "" {
			return string(corev1.PodPending)
		}
		return st.Object.Status.Phase
	}
	for _, cond := range st.Object.Status.Conditions {
		if cond.Type == string(corev1.NodeReady) {
			return cond.Status
		}
	}
	return string(corev1.ConditionUnknown)
}
