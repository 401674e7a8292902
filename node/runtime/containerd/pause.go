package containerd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// pauseEnv makes a process started from this program's own executable the
// pause process of a sandbox whose containers share one PID namespace
// (shareProcessNamespace): PID 1 of that namespace, which holds it while the
// containers come and go, and reaps the processes orphaned in it. The agent
// starts it (startPause); any program that links this package becomes it
// when started with the variable set, before its main runs.
const pauseEnv = "WAKE_PAUSE_PROCESS"

func init() {
	if os.Getenv(pauseEnv) == "1" && os.Getpid() == 1 {
		pause()
	}
}

// pause reaps children until SIGTERM or SIGINT.
func pause() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT)
	for s := range sigs {
		if s != unix.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}

// startPause starts the sandbox's pause process in a new PID namespace and
// bind-mounts that namespace on path, for the containers to join. The process
// outlives the agent, as containers do; stopPause ends it.
func startPause(path string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("pause process: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = []string{pauseEnv + "=1"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID, Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pause process: %w", err)
	}
	go cmd.Wait() //nolint:errcheck // reaped when it ends, while this agent runs
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return err
	}
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		return err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/pid", cmd.Process.Pid), path, "none", unix.MS_BIND, ""); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("bind mount the pause process's PID namespace: %w", err)
	}
	return os.WriteFile(path+".pid", []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

// stopPause ends the pause process whose PID namespace is bound on path, if
// it runs: the recorded PID is killed only while it is still that
// namespace's process, never a later process that reused the number.
// Idempotent.
func stopPause(path string) error {
	b, err := os.ReadFile(path + ".pid")
	if err == nil {
		pid, _ := strconv.Atoi(string(b))
		var want, got unix.Stat_t
		if pid > 0 && unix.Stat(path, &want) == nil && unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", pid), &got) == nil &&
			want.Ino == got.Ino && want.Dev == got.Dev {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := removeNamespace(path); err != nil {
		return err
	}
	if err := os.Remove(path + ".pid"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
