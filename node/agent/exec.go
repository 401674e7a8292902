package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/node/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
)

func (a *Agent) serveExec(ctx context.Context, nc *nats.Conn, m *nats.Msg) {
	respond := func(r api.ExecReply) {
		data, _ := json.Marshal(r)
		_ = m.Respond(data)
	}
	var req api.ExecRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.Inbox == "" {
		respond(api.ExecReply{Error: "bad exec request"})
		return
	}
	if len(req.Cmd) == 0 {
		respond(api.ExecReply{Error: "you must specify at least one command for the container"})
		return
	}
	t, err := a.findContainer(ctx, req.Namespace, req.Pod, req.Container)
	if err != nil {
		respond(api.ExecReply{Error: err.Error()})
		return
	}
	if t.current == nil || t.current.State != runtime.ContainerRunning {
		respond(api.ExecReply{Error: fmt.Sprintf("unable to upgrade connection: container %s not found in pod %s (it is not running)", req.Container, req.Pod)})
		return
	}
	session := "wake.exec." + a.cfg.NodeName + "." + string(uuid.NewUUID())
	c, stop, err := keepAlive(ctx, nc, session+".alive")
	if err != nil {
		respond(api.ExecReply{Error: err.Error()})
		return
	}
	defer stop()
	cfg := runtime.ExecConfig{Cmd: req.Cmd, TTY: req.TTY,
		Stdout: &publisher{nc: nc, subject: req.Inbox + ".out"},
		Stderr: &publisher{nc: nc, subject: req.Inbox + ".err"}}
	if req.Stdin {
		in := &subReader{ch: make(chan []byte, 256), done: c.Done()}
		sub, err := nc.Subscribe(session+".in", in.push)
		if err != nil {
			respond(api.ExecReply{Error: err.Error()})
			return
		}
		defer sub.Unsubscribe()
		cfg.Stdin = in
	}
	if err := nc.Flush(); err != nil { // subscriptions in place before the client sends
		respond(api.ExecReply{Error: err.Error()})
		return
	}
	respond(api.ExecReply{Session: session})
	code, err := a.rt.Exec(c, t.current.ID, cfg)
	exit := api.ExecExit{Code: code}
	if err != nil {
		exit.Error = err.Error()
		if errors.Is(err, runtime.ErrNotRunning) {
			exit.Error = fmt.Sprintf("container %s in pod %s is not running", req.Container, req.Pod)
		}
	}
	data, _ := json.Marshal(exit)
	_ = nc.Publish(req.Inbox+".exit", data)
	_ = nc.Flush()
}

// publisher writes to a subject in chunks of at most api.ChunkSize.
type publisher struct {
	nc      *nats.Conn
	subject string
	mu      sync.Mutex
}

func (p *publisher) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for off := 0; off < len(b); off += api.ChunkSize {
		if err := p.nc.Publish(p.subject, b[off:min(off+api.ChunkSize, len(b))]); err != nil {
			return off, err
		}
	}
	return len(b), nil
}

// subReader reads the messages of a subscription; an empty message is EOF.
type subReader struct {
	ch   chan []byte
	done <-chan struct{}
	buf  []byte
	eof  bool
}

func (r *subReader) push(m *nats.Msg) {
	select {
	case r.ch <- m.Data:
	case <-r.done:
	}
}

func (r *subReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		select {
		case d := <-r.ch:
			if len(d) == 0 {
				r.eof = true
			}
			r.buf = d
		case <-r.done:
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
