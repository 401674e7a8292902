// The node cache: the projection's nodes and pods held in memory as NodeInfos,
// refreshed from the objects each commit touched.

package scheduler

import (
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

// podState is what the cache knows of one pod.
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
			default:
				s.refreshStorage(ref, st)
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

func (s *Service) refreshPod(ref events.Ref, st *object.Stored, rec *reconcile.Record) {
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
