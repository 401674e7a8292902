// Package node holds no code: its subpackages are what runs on a node (see
// ARCHITECTURE.md §4).
//
//   - agent: the node agent. It registers its Node, reads its own inbox, runs the
//     pods assigned to it and reports their status as events.
//   - runtime: the seam between the agent and the container runtime, and the pure
//     translations from a pod spec; runtime/containerd implements it on containerd.
//   - cni: pod networks through CNI plugins (a bridge per agent, portmap for host
//     ports).
//   - containerd: the containerd the agent talks to, found or started.
//   - image: small OCI images built from local files, and the archives containerd
//     imports, so wake runs without a registry.
//   - host: what a machine must have installed, and which package brings it.
//   - teardown: takes a node out of service and puts the host back.
package node
