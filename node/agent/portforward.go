package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/node/api"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// podAddress is where the node reaches a pod of its own: its IP on the pod
// network, or 127.0.0.1 for a pod in the host's network namespace.
func (a *Agent) podAddress(ctx context.Context, ns, name string) (string, error) {
	pod, err := a.desired(ns, name)
	if err != nil {
		return "", err
	}
	if pod == nil {
		return "", fmt.Errorf("pod %s is not running on node %s", name, a.cfg.NodeName)
	}
	sbs, err := a.rt.ListSandboxes(ctx)
	if err != nil {
		return "", err
	}
	for _, sb := range sbs {
		if sb.PodUID != string(pod.UID) {
			continue
		}
		if sb.HostNetwork {
			return "127.0.0.1", nil
		}
		if sb.IP != "" {
			return sb.IP, nil
		}
	}
	return "", fmt.Errorf("pod %s has no network on node %s yet", name, a.cfg.NodeName)
}

// servePortForward forwards one connection to a pod's port (see
// api.PortForwardRequest): the node dials the pod's IP from the host, which
// for TCP is what entering the pod's network namespace gives.
func (a *Agent) servePortForward(ctx context.Context, nc *nats.Conn, m *nats.Msg) {
	respond := func(r api.PortForwardReply) {
		data, _ := json.Marshal(r)
		_ = m.Respond(data)
	}
	var req api.PortForwardRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.Inbox == "" {
		respond(api.PortForwardReply{Error: "bad port-forward request"})
		return
	}
	if req.Port < 1 || req.Port > 65535 {
		respond(api.PortForwardReply{Error: fmt.Sprintf("invalid port %d: must be between 1 and 65535", req.Port)})
		return
	}
	ip, err := a.podAddress(ctx, req.Namespace, req.Pod)
	if err != nil {
		respond(api.PortForwardReply{Error: err.Error()})
		return
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(req.Port))))
	if err != nil {
		respond(api.PortForwardReply{Error: fmt.Sprintf("error forwarding port %d to pod %s: %v", req.Port, req.Pod, err)})
		return
	}
	defer conn.Close()
	session := api.PortForwardSessionPrefix + a.cfg.NodeName + "." + string(uuid.NewUUID())
	c, stop, err := keepAlive(ctx, nc, session+".alive")
	if err != nil {
		respond(api.PortForwardReply{Error: err.Error()})
		return
	}
	defer stop()
	c, cancel := context.WithCancel(c)
	defer cancel()
	clientDone := make(chan struct{})
	var once sync.Once
	var recv api.Receiver
	in, err := nc.Subscribe(session+".in", func(m *nats.Msg) {
		data, end, err := recv.Accept(m)
		if err != nil {
			a.logger.Warn("port-forward: client stream broke", "pod", req.Namespace+"/"+req.Pod, "port", req.Port, "err", err)
			cancel()
			return
		}
		if end {
			api.CloseWrite(conn)
			once.Do(func() { close(clientDone) })
			return
		}
		if _, err := conn.Write(data); err != nil {
			cancel()
			return
		}
		recv.Written(nc, req.Inbox+".ack", len(data))
	})
	if err != nil {
		respond(api.PortForwardReply{Error: err.Error()})
		return
	}
	defer in.Unsubscribe()
	_ = in.SetPendingLimits(-1, -1)
	win := api.NewWindow()
	defer win.Close()
	acks, err := nc.Subscribe(session+".ack", win.Ack)
	if err != nil {
		respond(api.PortForwardReply{Error: err.Error()})
		return
	}
	defer acks.Unsubscribe()
	closed, err := nc.Subscribe(session+".close", func(*nats.Msg) { cancel() })
	if err != nil {
		respond(api.PortForwardReply{Error: err.Error()})
		return
	}
	defer closed.Unsubscribe()
	if err := nc.Flush(); err != nil { // subscriptions in place before the client sends
		respond(api.PortForwardReply{Error: err.Error()})
		return
	}
	respond(api.PortForwardReply{Session: session})
	podDone := make(chan struct{})
	go func() {
		defer close(podDone)
		_ = api.Send(nc, req.Inbox+".data", conn, win)
	}()
	for clientDone != nil || podDone != nil {
		select {
		case <-c.Done():
			return // the deferred Close ends the copy from the pod
		case <-clientDone:
			clientDone = nil
		case <-podDone:
			podDone = nil
		}
	}
}
