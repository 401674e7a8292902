package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

// followPoll is how often a followed log is read again.
const followPoll = 200 * time.Millisecond

// target is a container of a pod that runs on this node.
type target struct {
	pod     *corev1.Pod
	current *runtime.ContainerStatus // newest attempt, nil if none was created yet
	all     []runtime.ContainerStatus
}

// findContainer resolves namespace/pod/container to this node's containers, with
// errors worded as kubectl's.
func (a *Agent) findContainer(ctx context.Context, ns, name, container string) (*target, error) {
	pod, err := a.desired(ns, name)
	if err != nil {
		return nil, err
	}
	if pod == nil {
		return nil, fmt.Errorf("pod %s is not running on node %s", name, a.cfg.NodeName)
	}
	found := false
	for _, c := range pod.Spec.Containers {
		found = found || c.Name == container
	}
	if !found {
		return nil, fmt.Errorf("container %s is not valid for pod %s", container, name)
	}
	ctrs, err := a.rt.ListContainers(ctx)
	if err != nil {
		return nil, err
	}
	t := &target{pod: pod}
	for _, c := range ctrs {
		if c.PodUID != string(pod.UID) || c.Name != container {
			continue
		}
		t.all = append(t.all, c)
		if t.current == nil || c.Attempt > t.current.Attempt {
			cc := c
			t.current = &cc
		}
	}
	return t, nil
}

func (t *target) attempt(n uint32) *runtime.ContainerStatus {
	for i := range t.all {
		if t.all[i].Attempt == n {
			return &t.all[i]
		}
	}
	return nil
}

// logFile picks the log a request reads: the newest attempt's, or with previous
// the one before it (or the newest when it has exited and none is older, as in a
// crash loop's back-off).
func (a *Agent) logFile(t *target, req api.LogsRequest) (string, *runtime.ContainerStatus, error) {
	if t.current == nil {
		return "", nil, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", req.Container, req.Pod)
	}
	c := t.current
	if req.Previous {
		var prev *runtime.ContainerStatus
		if c.Attempt > 0 {
			prev = t.attempt(c.Attempt - 1)
		}
		if prev == nil && c.State != runtime.ContainerRunning && c.State != runtime.ContainerCreated {
			prev = c
		}
		if prev == nil {
			return "", nil, fmt.Errorf("previous terminated container %q in pod %q not found", req.Container, req.Pod)
		}
		c = prev
	}
	return a.rt.LogPath(c.ID), c, nil
}

// serveStreams answers logs and exec requests.
func (a *Agent) serveStreams(ctx context.Context, nc *nats.Conn) ([]*nats.Subscription, error) {
	logs, err := nc.Subscribe(api.LogsSubject(a.cfg.NodeName), func(m *nats.Msg) {
		var req api.LogsRequest
		if err := json.Unmarshal(m.Data, &req); err != nil || req.Inbox == "" {
			_ = m.Respond([]byte(`{"error":"bad logs request"}`))
			return
		}
		_ = m.Respond([]byte("{}"))
		go a.serveLogs(ctx, nc, req)
	})
	if err != nil {
		return nil, err
	}
	exec, err := nc.Subscribe(api.ExecSubject(a.cfg.NodeName), func(m *nats.Msg) {
		go a.serveExec(ctx, nc, m)
	})
	if err != nil {
		logs.Unsubscribe()
		return nil, err
	}
	pf, err := nc.Subscribe(api.PortForwardSubject(a.cfg.NodeName), func(m *nats.Msg) {
		go a.servePortForward(ctx, nc, m)
	})
	if err != nil {
		logs.Unsubscribe()
		exec.Unsubscribe()
		return nil, err
	}
	return []*nats.Subscription{logs, exec, pf}, nil
}

// keepAlive returns a context that ends when ctx does or when nothing arrived on
// subject for api.KeepAliveTimeout.
func keepAlive(ctx context.Context, nc *nats.Conn, subject string) (context.Context, func(), error) {
	c, cancel := context.WithCancel(ctx)
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	sub, err := nc.Subscribe(subject, func(*nats.Msg) { last.Store(time.Now().UnixNano()) })
	if err != nil {
		cancel()
		return nil, nil, err
	}
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-c.Done():
				return
			case <-tick.C:
				if time.Since(time.Unix(0, last.Load())) > api.KeepAliveTimeout {
					cancel()
					return
				}
			}
		}
	}()
	return c, func() { sub.Unsubscribe(); cancel() }, nil
}

func (a *Agent) serveLogs(ctx context.Context, nc *nats.Conn, req api.LogsRequest) {
	var seq int64
	send := func(data []byte) error {
		seq++
		m := nats.NewMsg(req.Inbox)
		m.Data = data
		m.Header.Set(api.HeaderSeq, strconv.FormatInt(seq, 10))
		return nc.PublishMsg(m)
	}
	end := func(err error) {
		m := nats.NewMsg(req.Inbox)
		m.Header.Set(api.HeaderEOF, "1")
		if err != nil {
			m.Header.Set(api.HeaderError, err.Error())
		}
		_ = nc.PublishMsg(m)
		_ = nc.Flush()
	}
	c, stop, err := keepAlive(ctx, nc, req.Inbox+".alive")
	if err != nil {
		end(err)
		return
	}
	defer stop()
	t, err := a.findContainer(c, req.Namespace, req.Pod, req.Container)
	if err != nil {
		end(err)
		return
	}
	path, ctr, err := a.logFile(t, req)
	if err != nil {
		end(err)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("no log for container %q in pod %q", req.Container, req.Pod)
		}
		end(err)
		return
	}
	defer f.Close()
	if req.Tail >= 0 {
		off, err := tailOffset(f, req.Tail)
		if err == nil {
			_, err = f.Seek(off, io.SeekStart)
		}
		if err != nil {
			end(err)
			return
		}
	}
	buf := make([]byte, api.ChunkSize)
	copyAll := func() error {
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if err := send(buf[:n]); err != nil {
					return err
				}
			}
			if err == io.EOF || (err == nil && n == 0) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	if err := copyAll(); err != nil || !req.Follow || req.Previous {
		end(err)
		return
	}
	// Follow: poll the file until the client goes away or the container stops.
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	check := time.Now()
	for {
		select {
		case <-c.Done():
			end(nil)
			return
		case <-tick.C:
		}
		if err := copyAll(); err != nil {
			end(err)
			return
		}
		if time.Since(check) < time.Second {
			continue
		}
		check = time.Now()
		if !a.stillRunning(c, t.pod, ctr) {
			end(copyAll()) // what it wrote before it stopped
			return
		}
	}
}

// stillRunning reports whether ctr is running and still the newest attempt.
func (a *Agent) stillRunning(ctx context.Context, pod *corev1.Pod, ctr *runtime.ContainerStatus) bool {
	ctrs, err := a.rt.ListContainers(ctx)
	if err != nil {
		return ctx.Err() == nil
	}
	alive := false
	for _, c := range ctrs {
		if c.PodUID != string(pod.UID) || c.Name != ctr.Name {
			continue
		}
		if c.Attempt > ctr.Attempt {
			return false
		}
		if c.ID == ctr.ID {
			alive = c.State == runtime.ContainerRunning || c.State == runtime.ContainerCreated
		}
	}
	return alive
}

// tailOffset is where the last n lines of f start (a last line without a newline
// counts as a line).
func tailOffset(f *os.File, n int64) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if n == 0 {
		return size, nil
	}
	pos := size
	var lines int64
	buf := make([]byte, 32<<10)
	first := true
	for pos > 0 {
		k := min(int64(len(buf)), pos)
		pos -= k
		if _, err := f.ReadAt(buf[:k], pos); err != nil && err != io.EOF {
			return 0, err
		}
		for i := k - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				first = false
				continue
			}
			if first && pos+i == size-1 {
				first = false
				continue // the newline that ends the last line
			}
			lines++
			if lines == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}
