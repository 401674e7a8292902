// Package scheduler is the pure core of wake's scheduler: it decides which node a
// pod is bound to, or says node by node why it fits nowhere.
//
// The package does no I/O and reads no clock or randomness: every decision is a
// function of its inputs (a PodInfo and a slice of NodeInfo), so the same inputs
// always give the same binding. The service around it folds node and pod events
// into NodeInfos (NewNodeInfo, SetNode, AddPod, RemovePod, each O(1) in the size
// of the cluster), calls Scheduler.Schedule for a pending pod and appends either
// a binding (explained by Result.Scores) or an unschedulable event (the
// FitError's message and per-node statuses).
//
// Scheduling is a pipeline in the shape of the Kubernetes scheduler framework:
// filter plugins remove the nodes a pod cannot run on (NodeReady, TaintToleration,
// NodeAffinity, NodePorts, NodeResourcesFit, in that order, the first failure
// deciding a node's status), score plugins rank the rest (LeastAllocated,
// BalancedAllocation, NodeAffinity, TaintToleration, OwnerSpread), and the
// highest weighted sum wins, ties broken by a hash of the pod's uid and the node's
// name so that equal nodes share the load reproducibly.
package scheduler
