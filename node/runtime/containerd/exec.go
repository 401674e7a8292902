package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/wake-run/wake/node/runtime"
)

// execDrainTimeout bounds the wait for an exec'd process's output after it
// exited, for when a background child of it keeps the output open.
const execDrainTimeout = 5 * time.Second

// Exec implements runtime.Runtime. The process gets the container's
// environment, user and working directory.
func (r *Runtime) Exec(ctx context.Context, id string, cfg runtime.ExecConfig) (int, error) {
	if len(cfg.Cmd) == 0 {
		return 0, fmt.Errorf("%w: exec in %s: no command", runtime.ErrInvalid, id)
	}
	ctx = r.ctx(ctx)
	ctr, err := r.loadContainer(ctx, id)
	if err != nil {
		return 0, err
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return 0, fmt.Errorf("exec in %s: %w", id, runtime.ErrNotRunning)
	}
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	if status, err := task.Status(ctx); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	} else if status.Status != client.Running {
		return 0, fmt.Errorf("exec in %s: it is %s: %w", id, status.Status, runtime.ErrNotRunning)
	}
	spec, err := ctr.Spec(ctx)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	process := *spec.Process
	process.Args = cfg.Cmd
	process.Terminal = cfg.TTY

	stdout, stderr := cfg.Stdout, cfg.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil || cfg.TTY {
		stderr = io.Discard
	}
	stdin := cfg.Stdin
	var stdinDone chan struct{}
	if stdin != nil {
		stdinDone = make(chan struct{})
		stdin = &endNotifier{r: stdin, done: stdinDone}
	}
	opts := []cio.Opt{cio.WithStreams(stdin, stdout, stderr)}
	if cfg.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	execID := "exec-" + randomHex(8)
	proc, err := task.Exec(ctx, execID, &process, cio.NewCreator(opts...))
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	// Delete waits for the output to be copied; it must run whatever ctx.
	defer proc.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
	exitC, err := proc.Wait(ctx)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	if err := proc.Start(ctx); err != nil {
		return 0, fmt.Errorf("exec %q in %s: %w", cfg.Cmd[0], id, err)
	}
	if stdinDone != nil {
		// The shim holds the stdin fifo open for reattachment; the process
		// sees end of file once the shim lets go and the copy is done.
		execDone := make(chan struct{})
		defer close(execDone)
		go func() {
			select {
			case <-stdinDone:
				proc.CloseIO(ctx, client.WithStdinCloser)
			case <-execDone:
			}
		}()
	}
	select {
	case st := <-exitC:
		code, _, err := st.Result()
		if err != nil {
			return 0, fmt.Errorf("exec in %s: %w", id, err)
		}
		// Delete cancels the copy of the output: let it drain first. The
		// shim closes the output once no process holds it; a background
		// child that keeps it open gets execDrainTimeout.
		drained := make(chan struct{})
		go func() { proc.IO().Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(execDrainTimeout):
		case <-ctx.Done():
		}
		if _, err := proc.Delete(context.WithoutCancel(ctx)); err != nil && !errdefs.IsNotFound(err) {
			return int(code), fmt.Errorf("exec in %s: %w", id, err)
		}
		return int(code), nil
	case <-ctx.Done():
		proc.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		return 0, ctx.Err()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// endNotifier closes done when its reader ends (end of file or an error).
type endNotifier struct {
	r    io.Reader
	done chan struct{}
	once sync.Once
}

func (e *endNotifier) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.done) })
	}
	return n, err
}
