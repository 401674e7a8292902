// Package api is the node's wire API: what a client, the dashboard or a control
// plane service sends to a node agent and reads back (logs, exec, images over
// core NATS request/reply), and the bucket the agent refreshes its heartbeat
// in. It holds only names and JSON types, no runtime, so whoever speaks to a
// node does not link the agent (containerd and its dependencies).
package api

import "time"

// HeartbeatBucket holds one key per node (the node's name), refreshed every
// HeartbeatInterval with the time in Unix milliseconds: the node's liveness,
// outside the audit log. The node lifecycle controller creates it; agents only
// write their key.
const (
	HeartbeatBucket   = "WAKE_NODE_HEARTBEATS"
	HeartbeatInterval = 2 * time.Second
)
