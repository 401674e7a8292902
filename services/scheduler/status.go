package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Status is why a filter plugin rejected a node. A nil *Status means the node
// passed. Statuses are immutable and may be shared between nodes and calls, so
// comparing them by pointer says nothing; compare Reasons.
type Status struct {
	plugin  string
	reasons []string
}

func newStatus(plugin string, reasons ...string) *Status {
	return &Status{plugin: plugin, reasons: reasons}
}

// Plugin is the name of the filter plugin that rejected the node.
func (s *Status) Plugin() string { return s.plugin }

// Reasons are the user-facing reasons, in the wording of the Kubernetes
// scheduler ("Insufficient cpu", "node(s) had untolerated taint {k: v}"). The
// returned slice is a copy.
func (s *Status) Reasons() []string { return slices.Clone(s.reasons) }

// String joins the reasons with ", ".
func (s *Status) String() string { return strings.Join(s.reasons, ", ") }

// ErrNoNodes is returned by Schedule when it is given no nodes at all.
var ErrNoNodes = errors.New("no nodes available to schedule pods")

// NodeStatus is one rejected node and why.
type NodeStatus struct {
	Node   string
	Status *Status
}

// FitError is returned by Schedule when every node rejected the pod. Its Error
// is the aggregate Kubernetes prints in a pod's FailedScheduling event:
// "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu},
// 2 Insufficient cpu." Each reason is counted once per node that gave it and the
// "<count> <reason>" entries are sorted as strings, as Kubernetes sorts them.
type FitError struct {
	// NumAllNodes is the number of nodes the pod was tried against.
	NumAllNodes int
	// Nodes holds every node's rejection, sorted by node name.
	Nodes []NodeStatus
}

// Error returns the aggregate message described on FitError.
func (e *FitError) Error() string {
	counts := make(map[string]int)
	for _, n := range e.Nodes {
		for _, r := range n.Status.reasons {
			counts[r]++
		}
	}
	entries := make([]string, 0, len(counts))
	for reason, n := range counts {
		entries = append(entries, fmt.Sprintf("%d %s", n, reason))
	}
	sort.Strings(entries)
	msg := fmt.Sprintf("0/%d nodes are available:", e.NumAllNodes)
	if len(entries) > 0 {
		msg += " " + strings.Join(entries, ", ") + "."
	}
	return msg
}
