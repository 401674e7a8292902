package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/api"
	corev1 "k8s.io/api/core/v1"
)

// LogsOptions choose which log of which container Logs streams (the flags of
// `wake logs`).
type LogsOptions struct {
	Namespace string
	Pod       string
	Container string // "" is the pod's only container
	Follow    bool
	Previous  bool
	Tail      int64 // negative is all
}

// PodTarget finds the node running a pod and the container meant ("" picks the
// pod's only container), with kubectl's errors: a pod of several containers
// needs a name, an unknown name lists the valid ones, and an unscheduled pod has
// no node to ask.
func (c *Client) PodTarget(ctx context.Context, ns, name, container string) (node, ctr string, err error) {
	k, _ := object.ByKind("Pod")
	st, err := c.Query.Get(ctx, k, ns, name)
	if err != nil {
		return "", "", err
	}
	pod, ok := st.Object.(*corev1.Pod)
	if !ok {
		return "", "", fmt.Errorf("%s is not a pod", name)
	}
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	switch {
	case container == "" && len(names) == 1:
		container = names[0]
	case container == "":
		return "", "", fmt.Errorf("a container name must be specified for pod %s, choose one of: [%s]", name, strings.Join(names, " "))
	default:
		found := false
		for _, n := range names {
			found = found || n == container
		}
		if !found {
			return "", "", fmt.Errorf("container %s is not valid for pod %s", container, name)
		}
	}
	if pod.Spec.NodeName == "" {
		return "", "", fmt.Errorf("pod %s is not scheduled yet", name)
	}
	return pod.Spec.NodeName, container, nil
}

// KeepAlive publishes to subject every api.KeepAliveInterval until ctx ends,
// telling a node agent that the stream it serves still has a reader.
func KeepAlive(ctx context.Context, nc *nats.Conn, subject string) {
	go func() {
		tick := time.NewTicker(api.KeepAliveInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = nc.Publish(subject, nil)
			}
		}
	}()
}

// Logs writes a container's log to w as the node agent running it sends it, in
// order and without gaps (a lost chunk is an error). Without Follow it returns
// at the end of the log; with Follow it returns nil when ctx ends, and when the
// container stops or is replaced.
func (c *Client) Logs(ctx context.Context, o LogsOptions, w io.Writer) error {
	node, ctr, err := c.PodTarget(ctx, o.Namespace, o.Pod, o.Container)
	if err != nil {
		return err
	}
	inbox := c.NC.NewRespInbox()
	sub, err := c.NC.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	req, _ := json.Marshal(api.LogsRequest{Namespace: o.Namespace, Pod: o.Pod, Container: ctr,
		Previous: o.Previous, Tail: o.Tail, Follow: o.Follow, Inbox: inbox})
	if _, err := c.NC.Request(api.LogsSubject(node), req, 10*time.Second); err != nil {
		return fmt.Errorf("node %s does not answer: %v", node, err)
	}
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	KeepAlive(kctx, c.NC, inbox+".alive")
	var seq int64
	for {
		wctx, stop := kctx, context.CancelFunc(func() {})
		if !o.Follow {
			wctx, stop = context.WithTimeout(kctx, 30*time.Second)
		}
		m, err := sub.NextMsgWithContext(wctx)
		stop()
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted while following
			}
			return fmt.Errorf("logs of pod %s: %v", o.Pod, err)
		}
		if m.Header.Get(api.HeaderEOF) != "" {
			if e := m.Header.Get(api.HeaderError); e != "" {
				return errors.New(e)
			}
			return nil
		}
		seq++
		if s := m.Header.Get(api.HeaderSeq); s != strconv.FormatInt(seq, 10) {
			return fmt.Errorf("logs of pod %s: the stream lost messages (got %s, want %d)", o.Pod, s, seq)
		}
		if _, err := w.Write(m.Data); err != nil {
			return err
		}
	}
}
