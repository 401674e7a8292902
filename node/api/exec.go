package api

// Exec: an ExecRequest on ExecSubject(node), request/reply. The client first
// subscribes to Inbox+".>"; the agent answers an ExecReply with a Session
// subject (or an Error), then streams the command's output to Inbox+".out" and
// Inbox+".err" (chunks of at most ChunkSize) and ends with an ExecExit on
// Inbox+".exit". With Stdin the client publishes input chunks to
// Session+".in" (an empty message is end of file). The client publishes to
// Session+".alive" every KeepAliveInterval; after KeepAliveTimeout without one
// the agent kills the command.

// ExecSubject is where a node runs commands in containers.
func ExecSubject(node string) string { return "wake.node." + node + ".exec" }

// ExecRequest runs Cmd in a pod's container.
type ExecRequest struct {
	Namespace string   `json:"namespace"`
	Pod       string   `json:"pod"`
	Container string   `json:"container"`
	Cmd       []string `json:"cmd"`
	TTY       bool     `json:"tty,omitempty"`
	Stdin     bool     `json:"stdin,omitempty"`
	Inbox     string   `json:"inbox"`
}

// ExecReply answers an ExecRequest.
type ExecReply struct {
	Session string `json:"session,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ExecExit ends an exec: the command's exit code, or why it could not run.
type ExecExit struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}
