package scheduler

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
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
	storage Storage              // claims, volumes and classes, for VolumeClaims

	metrics *Metrics // nil: not measured
}

// NewService returns a scheduler service; pass Touched to the runner with
// projections.WithTouched, then Attach the runner.
func NewService(log *events.Log, logger *slog.Logger) *Service {
	return &Service{log: log, logger: logger, sched: New(), wakeup: make(chan struct{}, 1),
		nodes: map[string]*NodeInfo{}, pods: map[string]*podState{}, pending: map[string]bool{}, parked: map[string]bool{},
		storage: Storage{Claims: map[string]*corev1.PersistentVolumeClaim{}, Volumes: map[string]*corev1.PersistentVolume{}, Classes: map[string]*storagev1.StorageClass{}}}
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

// RetryInterval is how often every parked pod is decided again, in case a
// change of the cluster that would place it (or change why it fits nowhere)
// went unseen: the scheduler's answers converge within it.
const RetryInterval = 5 * time.Second

// Run loads the projection, then places pods after every commit until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if err := s.load(); err != nil {
		return err
	}
	tick := time.NewTicker(RetryInterval)
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
