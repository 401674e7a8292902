// Package node will hold the node agent: it runs pods on containerd, sets up their
// network through CNI, and reports their status as events. Nothing here yet; see
// ARCHITECTURE.md §4.
package node
