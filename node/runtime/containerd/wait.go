package containerd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/wake-run/wake/node/runtime"
)

// WaitContainer implements runtime.Runtime. The first waiter to see the
// exit finalises it (see finalize). A lost connection to containerd (a
// daemon restart) is retried until ctx ends.
func (r *Runtime) WaitContainer(ctx context.Context, id string) (<-chan runtime.ExitStatus, error) {
	ctx = r.ctx(ctx)
	ctr, err := r.loadContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	labels, err := ctr.Labels(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait %s: %w", id, err)
	}
	out := make(chan runtime.ExitStatus, 1)
	if exit, ok := recordedExit(labels); ok {
		out <- exit
		close(out)
		return out, nil
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("wait %s: it has no task (start it first): %w", id, runtime.ErrNotRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("wait %s: %w", id, err)
	}
	exitC, err := task.Wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("wait %s: %w", id, err)
	}
	go func() {
		defer close(out)
		for {
			var st client.ExitStatus
			var ok bool
			select {
			case st, ok = <-exitC:
			case <-ctx.Done():
				return
			}
			if !ok {
				return // removed
			}
			if st.Error() == nil {
				if exit, err := r.finalize(ctx, ctr, st.ExitCode(), st.ExitTime()); err == nil {
					out <- exit
				}
				return
			}
			// containerd is restarting, or another waiter finalised the
			// exit and deleted the task.
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			exitC = r.rewait(ctx, ctr)
		}
	}()
	return out, nil
}

// rewait waits on the container's task again. When the task is gone, the
// exit recorded in the labels is the answer; when the container is gone,
// the channel is closed.
func (r *Runtime) rewait(ctx context.Context, ctr client.Container) <-chan client.ExitStatus {
	c := make(chan client.ExitStatus, 1)
	task, err := ctr.Task(ctx, nil)
	if err == nil {
		if exitC, err := task.Wait(ctx); err == nil {
			return exitC
		}
	} else if errdefs.IsNotFound(err) {
		labels, err := ctr.Labels(ctx)
		if err == nil {
			if exit, ok := recordedExit(labels); ok {
				c <- *client.NewExitStatus(uint32(exit.Code), exit.FinishedAt, nil)
				return c
			}
		}
		if errdefs.IsNotFound(err) {
			close(c)
			return c
		}
	}
	c <- *client.NewExitStatus(client.UnknownExitStatus, time.Time{}, errors.New("wait failed"))
	return c
}

// finalize makes an exit final: it reads the OOM kill from the cgroup,
// records the status in the container's labels, and deletes the task. The
// shim lets the copy of the output to the log finish before it deletes, so
// the log is complete afterwards; the cgroup and, for the last container of
// the pod, the shim go away. Idempotent: an exit already recorded is
// returned as it is.
func (r *Runtime) finalize(ctx context.Context, ctr client.Container, code uint32, finishedAt time.Time) (runtime.ExitStatus, error) {
	defer r.lockContainer(ctr.ID())()
	labels, err := ctr.Labels(ctx)
	if err != nil {
		return runtime.ExitStatus{}, err
	}
	if exit, ok := recordedExit(labels); ok {
		return exit, nil
	}
	exit := r.exitStatus(ctx, ctr, labels, code, finishedAt)
	if _, err := ctr.SetLabels(ctx, map[string]string{
		labelExitCode:   strconv.Itoa(exit.Code),
		labelFinishedAt: exit.FinishedAt.Format(time.RFC3339Nano),
		labelOOMKilled:  strconv.FormatBool(exit.OOMKilled),
	}); err != nil {
		return runtime.ExitStatus{}, err
	}
	if task, err := ctr.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
			return runtime.ExitStatus{}, err
		}
	}
	return exit, nil
}

// recordedExit is the exit finalize recorded in labels, if any.
func recordedExit(labels map[string]string) (runtime.ExitStatus, bool) {
	codeLabel, ok := labels[labelExitCode]
	if !ok {
		return runtime.ExitStatus{}, false
	}
	code, _ := strconv.Atoi(codeLabel)
	finishedAt, _ := time.Parse(time.RFC3339Nano, labels[labelFinishedAt])
	oom := labels[labelOOMKilled] == "true"
	return runtime.ExitStatus{
		Code: code, OOMKilled: oom, Reason: runtime.ExitReason(code, oom),
		StartedAt: startedAt(labels), FinishedAt: finishedAt,
	}, true
}

// exitStatus completes an exit code with the OOM kill and start time; the
// task must still exist (its cgroup goes with it).
func (r *Runtime) exitStatus(ctx context.Context, ctr client.Container, labels map[string]string, code uint32, finishedAt time.Time) runtime.ExitStatus {
	exit := runtime.ExitStatus{Code: int(code), FinishedAt: finishedAt.UTC(), StartedAt: startedAt(labels)}
	if spec, err := ctr.Spec(ctx); err == nil && spec.Linux != nil {
		exit.OOMKilled = oomKilled(spec.Linux.CgroupsPath)
	}
	exit.Reason = runtime.ExitReason(exit.Code, exit.OOMKilled)
	return exit
}

// oomKilled reports whether the OOM killer killed a process of the cgroup.
// The cgroup lives until the task is deleted, so this is read before. An
// exit code of 137 is not enough: a child can be OOM-killed while PID 1
// exits 0, and SIGKILL from elsewhere also gives 137.
func oomKilled(cgroupsPath string) bool {
	if cgroupsPath == "" {
		return false
	}
	for _, file := range []string{
		filepath.Join("/sys/fs/cgroup/memory", cgroupsPath, "memory.oom_control"), // v1
		filepath.Join("/sys/fs/cgroup", cgroupsPath, "memory.events"),             // v2
	} {
		if n, ok := readCounter(file, "oom_kill"); ok {
			return n > 0
		}
	}
	return false
}

// readCounter reads "key value" from a cgroup file.
func readCounter(path, key string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func startedAt(labels map[string]string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, labels[labelStartedAt])
	return t
}
