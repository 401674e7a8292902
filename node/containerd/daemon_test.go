package containerd_test

import (
	"context"
	"errors"
	"github.com/wake-run/wake/node/host"
	"github.com/wake-run/wake/node/host/hosttest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/wake-run/wake/node/containerd"
	"golang.org/x/sys/unix"
)

func TestEnsureStartsOnceAndReuses(t *testing.T) {
	requireContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "wake-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	d, err := containerd.Ensure(ctx, containerd.Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("private containerd answered in %v (pid %d)", time.Since(start).Round(time.Millisecond), d.PID)
	if d.PID == 0 || d.Socket != dir+"/containerd.sock" {
		t.Fatalf("Ensure = %+v, want a started daemon on %s/containerd.sock", d, dir)
	}
	if sid, err := unix.Getsid(d.PID); err != nil || sid != d.PID {
		t.Errorf("daemon session = %d (%v), want its own session %d", sid, err, d.PID)
	}

	again, err := containerd.Ensure(ctx, containerd.Config{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if again.PID != 0 || again.Socket != d.Socket {
		t.Errorf("second Ensure = %+v, want the running daemon (PID 0: not ours)", again)
	}
	if err := again.Stop(); err != nil {
		t.Errorf("Stop of a found daemon: %v", err)
	}
	if err := syscall.Kill(d.PID, 0); err != nil {
		t.Fatalf("Stop of a found daemon stopped it: %v", err)
	}

	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(d.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("daemon %d still exists after Stop: %v", d.PID, err)
	}
}

func TestEnsureNamesWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := containerd.Ensure(context.Background(), containerd.Config{StateDir: t.TempDir()})
	if !errors.Is(err, containerd.ErrNotInstalled) {
		t.Fatalf("Ensure without containerd = %v, want ErrNotInstalled", err)
	}
	t.Log(err)
}

func requireContainerd(t *testing.T) {
	t.Helper()
	hosttest.RequireRoot(t, "containerd")
	hosttest.Require(t, host.Containerd, host.Runc)
}
