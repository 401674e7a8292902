// Package scheduler is wake's scheduler: it decides which node a pod is bound to,
// or says node by node why it fits nowhere, and appends that decision.
//
// The core is pure: the Scheduler and its plugins (framework.go, schedule.go,
// status.go, nodeinfo.go, podinfo.go, requests.go and one file a plugin) do no I/O
// and read no clock or randomness, so every decision is a function of its inputs
// (a PodInfo and a slice of NodeInfo) and the same inputs always give the same
// binding. Fold (fold.go) is the projection's pure fold of Node and Pod events.
//
// The edges are the Service (service.go: its loop; cache.go: the node cache;
// queue.go: the pending and parked pods; binding.go: the binding pipeline) and
// metrics.go. The Service reads the projection, keeps its nodes and pods in
// memory as NodeInfos (NewNodeInfo, SetNode, AddPod, RemovePod, each O(1) in the
// size of the cluster), calls Scheduler.Schedule for a pending pod and appends
// to the log either a binding (explained by Result.Scores) or an unschedulable
// event (the FitError's message and per-node statuses); it notes when a pod
// started waiting. Metrics registers and updates the scheduler's Prometheus
// metrics.
//
// Scheduling is a pipeline in the shape of the Kubernetes scheduler framework:
// filter plugins remove the nodes a pod cannot run on (NodeReady, TaintToleration,
// NodeAffinity, NodePorts, NodeResourcesFit, in that order, the first failure
// deciding a node's status), score plugins rank the rest (LeastAllocated,
// BalancedAllocation, NodeAffinity, TaintToleration, OwnerSpread), and the
// highest weighted sum wins, ties broken by a hash of the pod's uid and the node's
// name so that equal nodes share the load reproducibly.
package scheduler
