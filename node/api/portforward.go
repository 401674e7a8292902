package api

// Port-forward: one PortForwardRequest on PortForwardSubject(node) per TCP
// connection the client accepted, request/reply. The client first subscribes
// to Inbox+".>"; the agent dials the pod's IP and port from the node (the pod
// network is reachable from the host, which is what entering the pod's
// network namespace gives for TCP; a host-network pod is dialled on
// 127.0.0.1) and answers a PortForwardReply with a Session subject (or an
// Error, for a pod that is not here or a port that refuses).
//
// Then, both ways, chunks of at most ChunkSize carry header HeaderSeq counting
// from 1, and an empty message with HeaderEOF ends one direction (the other
// side half-closes its connection): the pod's bytes go to Inbox+".data", the
// client's to Session+".in". HeaderError on the pod's end message says why the
// connection broke. Each receiver acknowledges what it has written out (see
// Window): the client on Session+".ack", the agent on Inbox+".ack"; a sender
// waits while WindowSize bytes are unacknowledged. The client publishes to Session+".alive" every
// KeepAliveInterval and to Session+".close" when it drops the connection; the
// agent closes the pod's connection on either, or after KeepAliveTimeout
// without a keep-alive. A gap in the sequence is an error that closes the
// connection: core NATS has no retransmission.

// PortForwardSubject is where a node forwards connections to its pods.
func PortForwardSubject(node string) string { return "wake.node." + node + ".portforward" }

// PortForwardSessionPrefix begins every session subject (node permissions
// allow it).
const PortForwardSessionPrefix = "wake.portforward."

// PortForwardRequest opens one connection to a pod's port.
type PortForwardRequest struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Port      int32  `json:"port"`
	Inbox     string `json:"inbox"`
}

// PortForwardReply answers a PortForwardRequest.
type PortForwardReply struct {
	Session string `json:"session,omitempty"`
	Error   string `json:"error,omitempty"`
}
