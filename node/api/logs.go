package api

import "time"

// Streams served by the agent over core NATS (not the event log), as kubectl's
// logs and exec.
//
// Logs: a LogsRequest on LogsSubject(node) carrying an Inbox. The agent answers
// with messages on Inbox: chunks of the log (at most ChunkSize bytes, header
// HeaderSeq counting from 1), ended by an empty message with header HeaderEOF
// (or HeaderError carrying a one-line message). While following, the client
// publishes to Inbox+".alive" every KeepAliveInterval; the agent stops after
// KeepAliveTimeout without one, or when the container stops or is replaced.
const (
	HeaderEOF         = "Wake-Eof"
	HeaderError       = "Wake-Error"
	HeaderSeq         = "Wake-Seq"
	ChunkSize         = 64 << 10
	KeepAliveInterval = 2 * time.Second
	KeepAliveTimeout  = 6 * time.Second
)

// LogsSubject is where a node serves container logs.
func LogsSubject(node string) string { return "wake.node." + node + ".logs" }

// LogsRequest asks for one container's log.
type LogsRequest struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Previous  bool   `json:"previous,omitempty"`
	// Tail is the number of last lines to send; negative is all.
	Tail   int64  `json:"tail"`
	Follow bool   `json:"follow,omitempty"`
	Inbox  string `json:"inbox"`
}
