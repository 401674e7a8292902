package containerd

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/wake-run/wake/node/runtime"
)

// Labels this implementation keeps on a container besides runtime.Label*:
// the start time, and the exit status once the exit is final (its task is
// deleted then, and with it what containerd knew of the exit).
const (
	labelStartedAt  = "wake.io/started-at"
	labelExitCode   = "wake.io/exit-code"
	labelFinishedAt = "wake.io/finished-at"
	labelOOMKilled  = "wake.io/oom-killed"
)

// StartContainer implements runtime.Runtime. A container whose task is
// missing (the agent died between creating the container and its task)
// gets its task here.
func (r *Runtime) StartContainer(ctx context.Context, id string) (uint32, error) {
	defer r.lockContainer(id)()
	ctx = r.ctx(ctx)
	ctr, err := r.loadContainer(ctx, id)
	if err != nil {
		return 0, err
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		if labels, err := ctr.Labels(ctx); err == nil {
			if _, exited := recordedExit(labels); exited {
				return 0, fmt.Errorf("start %s: it has exited: %w", id, runtime.ErrNotRunning)
			}
		}
		terminal := false
		if spec, err := ctr.Spec(ctx); err == nil && spec.Process != nil {
			terminal = spec.Process.Terminal
		}
		task, err = ctr.NewTask(ctx, logTo(r.LogPath(id), terminal))
	}
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", id, err)
	}
	status, err := task.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", id, err)
	}
	switch status.Status {
	case client.Running:
		return task.Pid(), nil
	case client.Created:
	default:
		return 0, fmt.Errorf("start %s: it is %s: %w", id, status.Status, runtime.ErrNotRunning)
	}
	startedAt := time.Now().UTC()
	if err := task.Start(ctx); err != nil {
		return 0, fmt.Errorf("start %s: %w", id, err)
	}
	if _, err := ctr.SetLabels(ctx, map[string]string{labelStartedAt: startedAt.Format(time.RFC3339Nano)}); err != nil {
		return 0, fmt.Errorf("start %s: record start time: %w", id, err)
	}
	return task.Pid(), nil
}

// StopContainer implements runtime.Runtime, with the image's STOPSIGNAL in
// place of SIGTERM when it has one.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	ctx = r.ctx(ctx)
	ctr, err := r.loadContainer(ctx, id)
	if err != nil {
		return err
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	status, err := task.Status(ctx)
	if err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	if status.Status == client.Stopped {
		return nil
	}
	exitC, err := task.Wait(ctx)
	if err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	signal, err := client.GetStopSignal(ctx, ctr, syscall.SIGTERM)
	if err != nil {
		signal = syscall.SIGTERM
	}
	if status.Status == client.Running {
		if err := task.Kill(ctx, signal); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("stop %s: %w", id, err)
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-exitC:
			return nil
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	select {
	case <-exitC:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	defer r.lockContainer(id)()
	ctx = r.ctx(ctx)
	ctr, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return ignoreNotExist(os.Remove(r.LogPath(id)))
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	if err := deleteTask(ctx, ctr); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	return ignoreNotExist(os.Remove(r.LogPath(id)))
}

// deleteTask kills and deletes a container's task, if it has one. A pod's
// containers share one shim, which exits with its last task: a delete racing
// that exit fails with a closed connection while containerd cleans the task up,
// so a failed delete is retried until the task is gone (about a second at most).
func deleteTask(ctx context.Context, ctr client.Container) error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		task, err := ctr.Task(ctx, nil)
		if errdefs.IsNotFound(err) {
			return nil
		}
		if err != nil {
			lastErr = err
			continue
		}
		_, err = task.Delete(ctx, client.WithProcessKill)
		if err == nil || errdefs.IsNotFound(err) {
			return nil
		}
		lastErr = fmt.Errorf("delete task: %w", err)
	}
	return lastErr
}

// ListContainers implements runtime.Runtime.
func (r *Runtime) ListContainers(ctx context.Context) ([]runtime.ContainerStatus, error) {
	ctx = r.ctx(ctx)
	containers, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q", runtime.LabelPodUID))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]runtime.ContainerStatus, 0, len(containers))
	for _, ctr := range containers {
		st, err := r.containerStatus(ctx, ctr)
		if errdefs.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b runtime.ContainerStatus) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (r *Runtime) containerStatus(ctx context.Context, ctr client.Container) (runtime.ContainerStatus, error) {
	info, err := ctr.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	attempt, _ := strconv.ParseUint(info.Labels[runtime.LabelAttempt], 10, 32)
	st := runtime.ContainerStatus{
		ID: info.ID, SandboxID: info.Labels[runtime.LabelSandbox], PodUID: info.Labels[runtime.LabelPodUID],
		Name: info.Labels[runtime.LabelContainer], Attempt: uint32(attempt), Image: info.Image,
		Labels: info.Labels, CreatedAt: info.CreatedAt, StartedAt: startedAt(info.Labels),
		State: runtime.ContainerCreated,
	}
	if exit, ok := recordedExit(info.Labels); ok {
		st.State, st.Exit = runtime.ContainerExited, &exit
		return st, nil
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		st.State = runtime.ContainerUnknown
		return st, nil
	}
	status, err := task.Status(ctx)
	if err != nil {
		st.State = runtime.ContainerUnknown
		return st, nil
	}
	switch status.Status {
	case client.Created:
	case client.Running, client.Paused, client.Pausing:
		st.State, st.Pid = runtime.ContainerRunning, task.Pid()
	case client.Stopped:
		exit := r.exitStatus(ctx, ctr, info.Labels, status.ExitStatus, status.ExitTime)
		st.State, st.Exit = runtime.ContainerExited, &exit
	default:
		st.State = runtime.ContainerUnknown
	}
	return st, nil
}

func (r *Runtime) loadContainer(ctx context.Context, id string) (client.Container, error) {
	ctr, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil, notFound("container", id)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	return ctr, nil
}
