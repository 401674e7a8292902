package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/node/api"
)

// ForwardConn carries one local connection to port of a pod on node, over
// NATS (see api.PortForwardRequest), until both sides have closed it or ctx
// ends; it closes conn. An error says why the node could not connect, or why
// the stream broke.
func (c *Client) ForwardConn(ctx context.Context, node, namespace, pod string, port int32, conn net.Conn) error {
	defer conn.Close()
	inbox := c.NC.NewRespInbox()
	podDone := make(chan error, 1)
	var recv api.Receiver
	var once sync.Once
	finish := func(err error) { once.Do(func() { podDone <- err }) }
	// The pod's first bytes may overtake the reply that names the session
	// they are acknowledged on: the subscription waits for it.
	var reply api.PortForwardReply
	replied := make(chan struct{})
	var closeReplied sync.Once
	defer closeReplied.Do(func() { close(replied) })
	sub, err := c.NC.Subscribe(inbox+".data", func(m *nats.Msg) {
		data, end, err := recv.Accept(m)
		if end || err != nil {
			api.CloseWrite(conn)
			finish(err)
			return
		}
		if _, err := conn.Write(data); err != nil {
			finish(err)
			return
		}
		<-replied
		if reply.Session != "" {
			recv.Written(c.NC, reply.Session+".ack", len(data))
		}
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	win := api.NewWindow()
	defer win.Close()
	acks, err := c.NC.Subscribe(inbox+".ack", win.Ack)
	if err != nil {
		return err
	}
	defer acks.Unsubscribe()
	req, _ := json.Marshal(api.PortForwardRequest{Namespace: namespace, Pod: pod, Port: port, Inbox: inbox})
	msg, err := c.NC.RequestWithContext(ctx, api.PortForwardSubject(node), req)
	if err != nil {
		return fmt.Errorf("node %s does not answer: %v", node, err)
	}
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		return err
	}
	closeReplied.Do(func() { close(replied) })
	if reply.Error != "" {
		return errors.New(reply.Error)
	}
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	KeepAlive(kctx, c.NC, reply.Session+".alive")
	localDone := make(chan error, 1)
	go func() { localDone <- api.Send(c.NC, reply.Session+".in", conn, win) }()
	var firstErr error
	for localDone != nil || podDone != nil {
		select {
		case <-ctx.Done():
			_ = c.NC.Publish(reply.Session+".close", nil)
			_ = c.NC.FlushTimeout(time.Second)
			return nil
		case err := <-localDone:
			localDone = nil
			if err != nil && firstErr == nil {
				firstErr = err
			}
		case err := <-podDone:
			podDone = nil
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	if firstErr != nil {
		return fmt.Errorf("error forwarding port %d to pod %s: %w", port, pod, firstErr)
	}
	return nil
}
