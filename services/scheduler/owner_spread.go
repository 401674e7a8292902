package scheduler

// OwnerSpread spreads the pods of one controller (a ReplicaSet) over the nodes:
// a node with fewer pods of the same owner scores higher. The raw score is the
// number of the owner's pods on the node; normalised, the feasible nodes with
// the most score 0 and those with none MaxNodeScore (as Kubernetes'
// SelectorSpread did per node). A pod without a controller scores every node
// MaxNodeScore.
type OwnerSpread struct{}

// Name implements ScorePlugin.
func (OwnerSpread) Name() string { return "OwnerSpread" }

// Score implements ScorePlugin.
func (OwnerSpread) Score(pod *PodInfo, node *NodeInfo) int64 {
	if pod.Owner == "" {
		return 0
	}
	return int64(node.owners[pod.Owner])
}

// NormalizeScores implements ScoreNormalizer.
func (OwnerSpread) NormalizeScores(_ *PodInfo, scores []int64) { normalize(scores, true) }
