// The queue: pods waiting to be placed now (pending), and pods that fit nowhere
// until the cluster changes (parked).

package scheduler

import "sort"

// unpark makes every parked pod pending again: the cluster changed.
func (s *Service) unpark() {
	for key := range s.parked {
		s.pending[key] = true
		delete(s.parked, key)
	}
}

// pendingInOrder is the pending pods' keys, oldest pod first (ties by key).
func (s *Service) pendingInOrder() []string {
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
	return keys
}
