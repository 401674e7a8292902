package containerd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// createNamespace creates a Linux namespace of kind (unix.CLONE_NEWNET,
// unix.CLONE_NEWUTS) that persists without any process in it, by
// bind-mounting it on the file path. init runs inside the new namespace
// (bring up lo, set the hostname). A file left at path by an earlier
// attempt is replaced.
func createNamespace(path string, kind int, init func() error) error {
	if err := removeNamespace(path); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("namespace file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread enters the new namespace and is never unlocked, so Go
		// ends it with the goroutine instead of reusing it.
		goruntime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(kind); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if init != nil {
				if err := init(); err != nil {
					return err
				}
			}
			nsName := map[int]string{unix.CLONE_NEWNET: "net", unix.CLONE_NEWUTS: "uts", unix.CLONE_NEWIPC: "ipc"}[kind]
			self := fmt.Sprintf("/proc/%d/task/%d/ns/%s", os.Getpid(), unix.Gettid(), nsName)
			if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind mount %s namespace on %s: %w", nsName, path, err)
			}
			return nil
		}()
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// removeNamespace unmounts and deletes a namespace file; the namespace
// itself ends when no process uses it. Idempotent.
func removeNamespace(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// loopbackUp brings up lo in the calling thread's network namespace, which
// is all a pod needs besides its CNI interface.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

// setHostname returns an init for a UTS namespace.
func setHostname(name string) func() error {
	return func() error {
		if err := unix.Sethostname([]byte(name)); err != nil {
			return fmt.Errorf("sethostname %q: %w", name, err)
		}
		return nil
	}
}
