package scheduler

import (
	"slices"
	"strings"
)

// Result is a placement and why it was chosen.
type Result struct {
	// Node is the name of the chosen node.
	Node string
	// Score is the chosen node's total: the sum of Scores' Score × Weight.
	Score int64
	// Scores is each score plugin's normalised score for the chosen node, in the
	// Scheduler's plugin order, to explain the decision in the binding event.
	Scores []PluginScore
	// Feasible is how many nodes passed every filter.
	Feasible int
}

// PluginScore is one score plugin's verdict on the chosen node.
type PluginScore struct {
	Plugin string
	Score  int64 // 0..MaxNodeScore
	Weight int64
}

// Schedule chooses the node for pod among nodes: the feasible node (one that
// passes every filter) with the highest weighted score. Among equal scores it
// chooses by a hash of the pod's uid and the node's name, so the same inputs
// give the same node whatever the order of nodes, while pods with equal
// candidates spread over them. When no node is feasible the error is a
// *FitError; with no nodes at all it is ErrNoNodes. Nodes must not be nil.
func (s *Scheduler) Schedule(pod *PodInfo, nodes []*NodeInfo) (Result, error) {
	if len(nodes) == 0 {
		return Result{}, ErrNoNodes
	}
	// One pass over the nodes filters each and, if it passes, scores it with
	// every plugin while its data is in cache; normalising needs all the raw
	// scores, so it follows.
	s.feasible, s.failed = s.feasible[:0], s.failed[:0]
	for j := range s.raw {
		s.raw[j] = s.raw[j][:0]
	}
	for i, n := range nodes {
		if st := s.Filter(pod, n); st != nil {
			s.failed = append(s.failed, nodeFailure{index: i, status: st})
			continue
		}
		s.feasible = append(s.feasible, i)
		for j, ws := range s.scores {
			s.raw[j] = append(s.raw[j], ws.Plugin.Score(pod, n))
		}
	}
	if len(s.feasible) == 0 {
		return Result{}, s.fitError(nodes)
	}

	totals := slices.Grow(s.totals[:0], len(s.feasible))[:len(s.feasible)]
	clear(totals)
	for j, ws := range s.scores {
		raw := s.raw[j]
		if nz, ok := ws.Plugin.(ScoreNormalizer); ok {
			nz.NormalizeScores(pod, raw)
		}
		for k, score := range raw {
			totals[k] += score * ws.Weight
		}
	}
	s.totals = totals

	best, bestHash := -1, uint64(0)
	for k, idx := range s.feasible {
		if best >= 0 && totals[k] < totals[best] {
			continue
		}
		name := nodes[idx].Name()
		h := tieHash(pod, name)
		if best >= 0 && totals[k] == totals[best] && !beats(h, name, bestHash, nodes[s.feasible[best]].Name()) {
			continue
		}
		best, bestHash = k, h
	}
	bestTotal := totals[best]

	res := Result{
		Node:     nodes[s.feasible[best]].Name(),
		Score:    bestTotal,
		Scores:   make([]PluginScore, len(s.scores)),
		Feasible: len(s.feasible),
	}
	for j, ws := range s.scores {
		res.Scores[j] = PluginScore{Plugin: ws.Plugin.Name(), Score: s.raw[j][best], Weight: ws.Weight}
	}
	return res, nil
}

// beats orders tied nodes by hash, then by name should two hashes collide.
func beats(h uint64, name string, bestHash uint64, bestName string) bool {
	if h != bestHash {
		return h > bestHash
	}
	return name < bestName
}

func (s *Scheduler) fitError(nodes []*NodeInfo) *FitError {
	e := &FitError{NumAllNodes: len(nodes), Nodes: make([]NodeStatus, len(s.failed))}
	for i, f := range s.failed {
		e.Nodes[i] = NodeStatus{Node: nodes[f.index].Name(), Status: f.status}
	}
	slices.SortFunc(e.Nodes, func(a, b NodeStatus) int { return strings.Compare(a.Node, b.Node) })
	return e
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashString continues an FNV-1a hash with s.
func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// tieHash mixes the pod's uid hash with the node's name. The final mix
// (splitmix64's) spreads names that differ only in their last bytes over the
// whole range, so that no node is systematically favoured.
func tieHash(pod *PodInfo, node string) uint64 {
	h := hashString(pod.tieSeed, node)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
