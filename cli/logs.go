package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/wake-run/wake/cli/client"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/agent"
	corev1 "k8s.io/api/core/v1"
)

// LogsOptions are the flags of `wake logs`.
type LogsOptions struct {
	Namespace string
	Pod       string
	Container string // "" is the pod's only container
	Follow    bool
	Previous  bool
	Tail      int64 // negative is all
}

// podTarget finds the node running a pod and the container meant, with
// kubectl's errors.
func podTarget(ctx context.Context, c *client.Client, ns, name, container string) (node, ctr string, err error) {
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

// keepAlive publishes to subject every agent.KeepAliveInterval until ctx ends.
func keepAlive(ctx context.Context, nc *nats.Conn, subject string) {
	go func() {
		tick := time.NewTicker(agent.KeepAliveInterval)
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

// Logs writes a container's log to w, as `wake logs`. Following ends when ctx
// does, or when the container stops or is replaced.
func Logs(ctx context.Context, c *client.Client, o LogsOptions, w io.Writer) error {
	node, ctr, err := podTarget(ctx, c, o.Namespace, o.Pod, o.Container)
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
	req, _ := json.Marshal(agent.LogsRequest{Namespace: o.Namespace, Pod: o.Pod, Container: ctr,
		Previous: o.Previous, Tail: o.Tail, Follow: o.Follow, Inbox: inbox})
	if _, err := c.NC.Request(agent.LogsSubject(node), req, 10*time.Second); err != nil {
		return fmt.Errorf("node %s does not answer: %v", node, err)
	}
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	keepAlive(kctx, c.NC, inbox+".alive")
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
		if m.Header.Get(agent.HeaderEOF) != "" {
			if e := m.Header.Get(agent.HeaderError); e != "" {
				return errors.New(e)
			}
			return nil
		}
		seq++
		if s := m.Header.Get(agent.HeaderSeq); s != strconv.FormatInt(seq, 10) {
			return fmt.Errorf("logs of pod %s: the stream lost messages (got %s, want %d)", o.Pod, s, seq)
		}
		if _, err := w.Write(m.Data); err != nil {
			return err
		}
	}
}

func newLogsCmd(g *globals) *cobra.Command {
	o := LogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs POD [-c CONTAINER]",
		Short: "Print the logs of a container of a pod",
		Example: `  wake logs web-7d4f9
  wake logs web-7d4f9 -c sidecar --tail 20 -f
  wake logs web-7d4f9 --previous`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Namespace, o.Pod = g.ns(), args[0]
			return Logs(ctx, c, o, g.out)
		},
	}
	cmd.Flags().StringVarP(&o.Container, "container", "c", "", "the container (default: the pod's only container)")
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep streaming the log as it grows")
	cmd.Flags().BoolVarP(&o.Previous, "previous", "p", false, "the log of the previous attempt of the container")
	cmd.Flags().Int64Var(&o.Tail, "tail", -1, "the number of last lines to show (-1: all)")
	return cmd
}
