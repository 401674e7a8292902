package scheduler

// MaxNodeScore is the highest score a score plugin gives a node; 0 is the lowest.
const MaxNodeScore int64 = 100

// FilterPlugin decides whether a pod can run on a node.
type FilterPlugin interface {
	Name() string
	// Filter returns nil when pod can run on node, or why it cannot. It must be
	// a pure function of its arguments.
	Filter(pod *PodInfo, node *NodeInfo) *Status
}

// ScorePlugin ranks a node that passed every filter.
type ScorePlugin interface {
	Name() string
	// Score returns a score in 0..MaxNodeScore, or, for a plugin that also
	// implements ScoreNormalizer, a raw score that NormalizeScores maps there.
	// It must be a pure function of its arguments.
	Score(pod *PodInfo, node *NodeInfo) int64
}

// ScoreNormalizer is implemented by score plugins whose raw scores only mean
// something relative to the other feasible nodes (a count of matching pods, a
// sum of weights). NormalizeScores rewrites them in place to 0..MaxNodeScore.
type ScoreNormalizer interface {
	NormalizeScores(pod *PodInfo, scores []int64)
}

// WeightedScore is a score plugin and the weight its score is multiplied by in
// a node's total.
type WeightedScore struct {
	Plugin ScorePlugin
	Weight int64
}

// DefaultFilters are the filter plugins in the order Kubernetes runs the
// equivalent ones (VolumeClaims stands for VolumeBinding's PreFilter, which runs
// before every filter). The first that rejects a node gives its status.
func DefaultFilters() []FilterPlugin {
	return []FilterPlugin{VolumeClaims{}, NodeReady{}, TaintToleration{}, NodeAffinity{}, NodePorts{}, NodeResourcesFit{}}
}

// DefaultScores are the score plugins with Kubernetes' default weights (spread
// takes PodTopologySpread's weight).
func DefaultScores() []WeightedScore {
	return []WeightedScore{
		{Plugin: LeastAllocated{}, Weight: 1},
		{Plugin: BalancedAllocation{}, Weight: 1},
		{Plugin: NodeAffinity{}, Weight: 2},
		{Plugin: TaintToleration{}, Weight: 3},
		{Plugin: OwnerSpread{}, Weight: 2},
	}
}

// Option configures a Scheduler.
type Option func(*Scheduler)

// WithScores replaces the score plugins and their weights.
func WithScores(scores ...WeightedScore) Option {
	return func(s *Scheduler) { s.scores = scores }
}

// Scheduler places pods with a fixed set of plugins. Its decisions are a pure
// function of the pod and the nodes it is given. It keeps scratch space between
// calls so that Schedule does not allocate per node, so one Scheduler must not
// be used by several goroutines at once; use one per goroutine.
type Scheduler struct {
	filters []FilterPlugin
	scores  []WeightedScore

	// Scratch space reused by Schedule.
	feasible []int
	failed   []nodeFailure
	raw      [][]int64 // per score plugin, per feasible node
	totals   []int64   // per feasible node
}

type nodeFailure struct {
	index  int
	status *Status
}

// New returns a Scheduler with DefaultFilters and DefaultScores unless options
// replace them.
func New(opts ...Option) *Scheduler {
	s := &Scheduler{filters: DefaultFilters(), scores: DefaultScores()}
	for _, o := range opts {
		o(s)
	}
	s.raw = make([][]int64, len(s.scores))
	return s
}

// Filter runs the filter plugins in order and returns the first rejection, or
// nil when pod can run on node.
func (s *Scheduler) Filter(pod *PodInfo, node *NodeInfo) *Status {
	for _, f := range s.filters {
		if st := f.Filter(pod, node); st != nil {
			return st
		}
	}
	return nil
}

// normalize maps raw scores to 0..MaxNodeScore relative to the highest, as
// Kubernetes' DefaultNormalizeScore does; reverse makes the highest raw score
// the lowest. With all raw scores 0, reverse gives every node MaxNodeScore.
func normalize(scores []int64, reverse bool) {
	var highest int64
	for _, s := range scores {
		highest = max(highest, s)
	}
	if highest == 0 {
		if reverse {
			for i := range scores {
				scores[i] = MaxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		if s != 0 {
			s = MaxNodeScore * s / highest
		}
		if reverse {
			s = MaxNodeScore - s
		}
		scores[i] = s
	}
}
