package teardown

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrInUse means a wake process holds the data or state directory: it
// still runs, and would restart what a teardown stops.
var ErrInUse = errors.New("in use by a running wake process")

// AgentLock is the file in an agent's state directory that the running
// agent holds (flock), with its PID as content.
const AgentLock = "agent.lock"

// ServerLock is the file in the control plane's data directory that a
// running `wake server` or `wake up` holds (see services/controlplane).
const ServerLock = "wake.lock"

// Lock takes an exclusive flock on path, creating it, and writes this
// process's PID into it. When another process holds it, the error wraps
// ErrInUse and names that process's PID. The kernel drops the lock when
// the process dies; release drops it earlier.
func Lock(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := flock(f, path); err != nil {
		return nil, err
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// probe takes the lock at path when the file exists, without writing to
// it; a missing file is no lock (nothing to release).
func probe(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := flock(f, path); err != nil {
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// flock locks f or, when another process holds it, closes f and returns
// an error naming that process.
func flock(f *os.File, path string) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		return nil
	}
	defer f.Close()
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	owner, _ := os.ReadFile(path)
	pid := strings.TrimSpace(string(owner))
	if pid == "" {
		pid = "unknown"
	}
	return &InUseError{Path: path, PID: pid}
}

// InUseError names the lock file and the PID of the process holding it.
type InUseError struct {
	Path string
	PID  string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("%s is held by a running wake process (pid %s)", e.Path, e.PID)
}

func (e *InUseError) Unwrap() error { return ErrInUse }
