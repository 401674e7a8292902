// Package containerd gives the node agent a containerd to talk to: the one
// already answering on the configured socket, or a private daemon it starts
// with its own root, state and socket. A daemon started here outlives the
// agent on purpose: the containers it runs must survive agent restarts, and
// the next agent finds it on the socket.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// ErrNotInstalled means containerd or runc is not on this machine.
var ErrNotInstalled = errors.New("containerd and runc are needed to run pods: apt-get install containerd runc")

// Config says where the daemon listens and keeps its files.
type Config struct {
	// StateDir holds the private daemon's config.toml, log, content and
	// snapshots (root/), runtime state (state/), opt/ and lock file.
	StateDir string
	// Socket is the containerd gRPC socket to use; "" is
	// StateDir/containerd.sock. Unix socket paths are limited to 107 bytes.
	Socket string
	// StartTimeout bounds the wait for a started daemon to answer; 0 is 15 s.
	StartTimeout time.Duration
}

// Daemon is a containerd that answers on Socket.
type Daemon struct {
	// Socket is the address to give client.New.
	Socket string
	// PID is the daemon's process ID when Ensure started it, else 0 (the
	// daemon was already there; wake does not own it).
	PID int
	// LogPath is the started daemon's log, "" when Ensure did not start it.
	LogPath string

	proc   *os.Process
	exited chan struct{}
}

// Ensure returns the containerd answering on cfg.Socket, starting one when
// none does: it writes StateDir/config.toml (CRI disabled, root, state and
// socket under StateDir) and runs `containerd --config` in a session of its
// own, detached from the caller so it lives on after it. Concurrent calls
// for the same StateDir start one daemon (a lock file serialises them).
// Ensure fails with ErrNotInstalled when containerd or runc is missing, and
// with the tail of the daemon's log when it exits or does not answer within
// cfg.StartTimeout.
func Ensure(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("containerd: Config.StateDir is empty")
	}
	if cfg.Socket == "" {
		cfg.Socket = filepath.Join(cfg.StateDir, "containerd.sock")
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 15 * time.Second
	}
	if answers(ctx, cfg.Socket) {
		return &Daemon{Socket: cfg.Socket}, nil
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("%w (containerd: %v)", ErrNotInstalled, err)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, fmt.Errorf("%w (runc: %v)", ErrNotInstalled, err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return nil, fmt.Errorf("containerd state directory: %w", err)
	}
	unlock, err := lock(ctx, filepath.Join(cfg.StateDir, "ensure.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another caller may have started it while this one waited for the lock.
	if answers(ctx, cfg.Socket) {
		return &Daemon{Socket: cfg.Socket}, nil
	}
	return start(ctx, bin, cfg)
}

func start(ctx context.Context, bin string, cfg Config) (*Daemon, error) {
	configPath := filepath.Join(cfg.StateDir, "config.toml")
	if err := os.WriteFile(configPath, []byte(configTOML(cfg)), 0o600); err != nil {
		return nil, fmt.Errorf("write containerd config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Socket), 0o711); err != nil {
		return nil, fmt.Errorf("containerd socket directory: %w", err)
	}
	// A socket file left by a daemon that died would make the new one fail.
	os.Remove(cfg.Socket)
	logPath := filepath.Join(cfg.StateDir, "containerd.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("containerd log: %w", err)
	}
	defer logFile.Close()
	// Not CommandContext: the daemon must not die with ctx or the caller.
	cmd := exec.Command(bin, "--config", configPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	d := &Daemon{Socket: cfg.Socket, PID: cmd.Process.Pid, LogPath: logPath, proc: cmd.Process, exited: make(chan struct{})}
	// Reap the daemon if it exits while this process lives; the goroutine
	// ends with the daemon.
	go func() { cmd.Wait(); close(d.exited) }()

	deadline := time.NewTimer(cfg.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-d.exited:
			return nil, fmt.Errorf("containerd exited at start:\n%s", logTail(logPath))
		case <-deadline.C:
			d.Stop()
			return nil, fmt.Errorf("containerd did not answer on %s within %v:\n%s", cfg.Socket, cfg.StartTimeout, logTail(logPath))
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-tick.C:
			if answers(ctx, cfg.Socket) {
				return d, nil
			}
		}
	}
}

// Stop stops a daemon Ensure started (SIGTERM, then SIGKILL after 10 s) and
// waits for it to exit; it does nothing for one it found running. It is
// meant for tests: an agent leaves its daemon running. The shims of running
// containers outlive the daemon.
func (d *Daemon) Stop() error {
	if d.proc == nil {
		return nil
	}
	if err := d.proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-d.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	d.proc.Kill()
	<-d.exited
	return nil
}

// answers reports whether a containerd serves its API on socket.
func answers(ctx context.Context, socket string) bool {
	if _, err := os.Stat(socket); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := client.New(socket, client.WithTimeout(time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	_, err = c.Version(ctx)
	return err == nil
}

func configTOML(cfg Config) string {
	return fmt.Sprintf(`# Written by wake for its private containerd.
version = 2
root = %q
state = %q
# CRI wants a pause image and /opt/cni/bin; wake drives containerd itself.
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(cfg.StateDir, "root"), filepath.Join(cfg.StateDir, "state"), cfg.Socket, filepath.Join(cfg.StateDir, "opt"))
}

// lock takes an exclusive flock on path, waiting for ctx.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("containerd lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("containerd lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
