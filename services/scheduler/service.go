package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
)

// Actor is the identity the scheduler appends as.
const Actor = "system:scheduler"

// Service binds pending pods to nodes. It keeps the nodes and pods of its
// projection in memory as NodeInfos, updated from the objects each commit touched,
// so a decision costs one pass over the nodes and never a rescan of the cluster.
type Service struct {
	log    *events.Log
	logger *slog.Logger
	runner *projections.Runner
	sched  *Scheduler

	mu      sync.Mutex
	changed []events.Ref
	wakeup  chan struct{}

	nodes   map[string]*NodeInfo
	pods    map[string]*podState // namespace/name
	pending map[string]bool      // pods to place now
	parked  map[string]bool      // pods that fit nowhere until the cluster changes

	metrics *Metrics // nil: not measured
}

type podState struct {
	info     *PodInfo
	version  uint64
	node     string // where it is bound (or assumed bound)
	cause    string
	corr     string
	deleting bool
	message  string // the current Unschedulable message
	// pendingSince is when the scheduler first saw the pod unbound.
	pendingSince time.Time
}

// New returns a scheduler service; pass Touched to the runner with
// projections.WithTouched, then Attach the runner.
func NewService(log *events.Log, logger *slog.Logger) *Service {
	return &Service{log: log, logger: logger, sched: New(), wakeup: make(chan struct{}, 1),
		nodes: map[string]*NodeInfo{}, pods: map[string]*podState{}, pending: map[string]bool{}, parked: map[string]bool{}}
}

// Attach sets the runner folding Projection().
func (s *Service) Attach(r *projections.Runner) { s.runner = r }

// Touched records the objects a commit changed. It never blocks.
func (s *Service) Touched(refs []events.Ref, _ uint64) {
	s.mu.Lock()
	s.changed = append(s.changed, refs...)
	s.mu.Unlock()
	select {
	case s.wakeup <- struct{}{}:
	default:
	}
}

// Run loads the projection, then places pods after every commit until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if err := s.load(); err != nil {
		return err
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		if err := s.round(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("scheduler round", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wakeup:
		case <-tick.C:
			s.unpark() // a periodic retry, in case a change went unseen
		}
	}
}

// load builds the in-memory state from the whole projection, once.
func (s *Service) load() error {
	var refs []events.Ref
	err := s.runner.View(func(rd projections.Reader, _ uint64) error {
		return rd.Scan([]byte("o\x00"), false, func(k, _ []byte) bool {
			parts := strings.SplitN(string(k[2:]), "\x00", 3)
			if len(parts) == 3 {
				refs = append(refs, events.Ref{Kind: parts[0], Namespace: parts[1], Name: parts[2]})
			}
			return true
		})
	})
	if err != nil {
		return err
	}
	s.Touched(refs, 0)
	return nil
}

func (s *Service) round(ctx context.Context) error {
	s.mu.Lock()
	refs := s.changed
	s.changed = nil
	s.mu.Unlock()
	if err := s.refresh(refs); err != nil {
		return err
	}
	return s.placePending(ctx)
}

// refresh rereads the touched objects and updates the in-memory cluster.
func (s *Service) refresh(refs []events.Ref) error {
	seen := map[events.Ref]bool{}
	return s.runner.View(func(rd projections.Reader, _ uint64) error {
		for _, ref := range refs {
			ref = ref.Object()
			if seen[ref] {
				continue
			}
			seen[ref] = true
			st, rec, err := readRecord(rd, ref.Kind, ref.Namespace, ref.Name)
			if err != nil {
				return err
			}
			switch ref.Kind {
			case "Node":
				s.refreshNode(ref.Name, st)
			case "Pod":
				s.refreshPod(ref, st, rec)
			}
		}
		return nil
	})
}

func (s *Service) refreshNode(name string, st *object.Stored) {
	ni := s.nodes[name]
	switch {
	case st == nil && ni != nil:
		delete(s.nodes, name)
	case st != nil && ni == nil:
		s.nodes[name] = NewNodeInfo(st.Object.(*corev1.Node))
	case st != nil:
		ni.SetNode(st.Object.(*corev1.Node))
	}
	s.unpark()
}

func (s *Service) refreshPod(ref events.Ref, st *object.Stored, rec *record) {
	key := ref.Namespace + "/" + ref.Name
	old := s.pods[key]
	if old != nil && old.node != "" {
		if ni := s.nodes[old.node]; ni != nil {
			ni.RemovePod(old.info.Pod.UID)
		}
	}
	if st == nil {
		delete(s.pods, key)
		delete(s.pending, key)
		delete(s.parked, key)
		s.unpark()
		return
	}
	pod := st.Object.(*corev1.Pod)
	info, err := NewPodInfo(pod)
	if err != nil {
		s.logger.Warn("pod cannot be scheduled", "pod", key, "err", err)
		delete(s.pods, key)
		delete(s.pending, key)
		return
	}
	ps := &podState{info: info, version: st.Version, node: pod.Spec.NodeName, cause: rec.EventID, corr: rec.Correlation,
		deleting: pod.DeletionTimestamp != nil, message: unschedulableMessage(pod)}
	s.pods[key] = ps
	if old != nil && old.node == "" && old.info.Pod.UID == pod.UID {
		ps.pendingSince = old.pendingSince
	}
	if ps.node == "" && ps.pendingSince.IsZero() {
		ps.pendingSince = time.Now()
	}
	if ps.node != "" {
		if ni := s.nodes[ps.node]; ni != nil {
			ni.AddPod(info)
		}
		delete(s.pending, key)
		delete(s.parked, key)
		return
	}
	if ps.deleting || !ours(pod) {
		delete(s.pending, key)
		return
	}
	if !s.parked[key] {
		s.pending[key] = true
	}
}

// ours is true for pods this scheduler places (no schedulerName, or the default).
func ours(pod *corev1.Pod) bool {
	return pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == corev1.DefaultSchedulerName || pod.Spec.SchedulerName == "wake"
}

func unschedulableMessage(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Message
		}
	}
	return ""
}

// unpark makes every parked pod pending again: the cluster changed.
func (s *Service) unpark() {
	for key := range s.parked {
		s.pending[key] = true
		delete(s.parked, key)
	}
}

// placePending decides every pending pod in creation order and appends the
// bindings pipelined. A binding refused by a version guard is undone; the pod's
// newer events come back through Touched and it is decided again.
func (s *Service) placePending(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	keys := make([]string, 0, len(s.pending))
	for key := range s.pending {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := s.pods[keys[i]].info.Pod, s.pods[keys[j]].info.Pod
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return keys[i] < keys[j]
	})
	nodes := make([]*NodeInfo, 0, len(s.nodes))
	for _, ni := range s.nodes {
		nodes = append(nodes, ni)
	}
	var sent []sentBinding
	p := s.log.Pipeline()
	for _, key := range keys {
		delete(s.pending, key)
		ps := s.pods[key]
		ev, node, err := s.decide(ps, nodes)
		if err != nil {
			return err
		}
		if ev == nil {
			continue
		}
		if err := p.Append(ev, ps.version); err != nil {
			return err
		}
		if node != "" {
			ps.node = node
			s.nodes[node].AddPod(ps.info)
		}
		sent = append(sent, sentBinding{key, node})
		if p.Len() >= 1024 {
			if err := s.settle(ctx, p, sent); err != nil {
				return err
			}
			sent = sent[:0]
		}
	}
	return s.settle(ctx, p, sent)
}

// decide returns the event to append for one pending pod: a binding, an
// unschedulable report (only when its message changed), or nothing.
func (s *Service) decide(ps *podState, nodes []*NodeInfo) (*events.Event, string, error) {
	pod := ps.info.Pod
	ref := events.Ref{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name}
	k, _ := object.ByKind("Pod")
	res, err := s.sched.Schedule(ps.info, nodes)
	var fit *FitError
	switch {
	case err == nil:
		b := object.Binding{Node: res.Node, Message: explain(res)}
		ev, err := s.event(object.EventType(k, object.Bound), ref, b, ps)
		if ev != nil {
			ev.Reason = fmt.Sprintf("assigned %s/%s to %s", pod.Namespace, pod.Name, res.Node)
		}
		return ev, res.Node, err
	case errors.As(err, &fit) || errors.Is(err, ErrNoNodes):
		s.parked[pod.Namespace+"/"+pod.Name] = true
		msg := err.Error()
		if errors.Is(err, ErrNoNodes) {
			msg = "0/0 nodes are available: no nodes registered."
		}
		if msg == ps.message {
			return nil, "", nil
		}
		ps.message = msg
		ev, err := s.event(object.EventType(k, object.Unschedulable), ref, object.Binding{Message: msg}, ps)
		if ev != nil {
			ev.Reason = msg
		}
		return ev, "", err
	default:
		return nil, "", err
	}
}

func (s *Service) event(typ string, ref events.Ref, payload object.Binding, ps *podState) (*events.Event, error) {
	ev, err := events.New(typ, ref, Actor, payload)
	if err != nil {
		return nil, err
	}
	ev.ID = events.DerivedID(Actor, ps.cause, typ, ref, ps.version)
	ev.Cause, ev.Correlation = ps.cause, ps.corr
	if ev.Correlation == "" {
		ev.Correlation = ev.ID
	}
	return ev, nil
}

// explain renders a decision for the binding event: total and per-plugin scores.
func explain(r Result) string {
	parts := make([]string, 0, len(r.Scores))
	for _, ps := range r.Scores {
		parts = append(parts, fmt.Sprintf("%s %d×%d", ps.Plugin, ps.Score, ps.Weight))
	}
	return fmt.Sprintf("score %d of %d feasible node(s): %s", r.Score, r.Feasible, strings.Join(parts, ", "))
}

// sentBinding is a pipelined decision: a pod and the node assumed for it ("" for an
// unschedulable report).
type sentBinding struct {
	key  string
	node string
}

// settle waits for pipelined appends; bindings refused by a guard are undone.
func (s *Service) settle(ctx context.Context, p *events.Pipeline, sent []sentBinding) error {
	res, err := p.Wait(ctx)
	if err != nil {
		return err
	}
	for i, r := range res {
		ps := s.pods[sent[i].key]
		if r.Err == nil {
			if ps != nil {
				s.metrics.decided(sent[i].node != "", ps.pendingSince)
			}
			continue
		}
		if sent[i].node != "" && ps != nil {
			if ni := s.nodes[sent[i].node]; ni != nil {
				ni.RemovePod(ps.info.Pod.UID)
			}
			ps.node = ""
		}
		if !errors.Is(r.Err, events.ErrConflict) {
			return r.Err
		}
	}
	return nil
}
