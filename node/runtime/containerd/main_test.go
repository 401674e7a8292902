package containerd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/wake-run/wake/node/host"
	"github.com/wake-run/wake/node/host/hosttest"
	"github.com/wake-run/wake/node/teardown"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/log"
	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/node/cni"
	ctrd "github.com/wake-run/wake/node/containerd"
	"github.com/wake-run/wake/node/image"
	"github.com/wake-run/wake/node/runtime"
	"github.com/wake-run/wake/node/runtime/containerd"
	"golang.org/x/sys/unix"
)

// env is the package's private containerd, pod network and runtime, shared
// by the tests (starting containerd and building the demo images once).
var env struct {
	skip    string // why the tests skip, when they must
	dir     string
	daemon  *ctrd.Daemon
	network *cni.Network
	config  containerd.Config
	rt      *containerd.Runtime
	subnet  string
}

// testSubnet is the pod CIDR of the test's bridge: a range no route of this
// machine uses (TestMain checks), so the tests only reach their own pods.
const testSubnet = "10.213.2.0/24"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The client logs each failed registry request at info.
	log.SetLevel("warn")
	if reason := missing(); reason != "" {
		env.skip = reason
		return m.Run()
	}
	forwardBefore, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	code, err := setUp()
	if err == nil {
		code = m.Run()
	} else {
		fmt.Fprintln(os.Stderr, "set up:", err)
		code = 1
	}
	if err := tearDown(); err != nil {
		fmt.Fprintln(os.Stderr, "tear down:", err)
		code = 1
	}
	if string(forwardBefore) == "0\n" {
		os.WriteFile("/proc/sys/net/ipv4/ip_forward", forwardBefore, 0o644)
	}
	if leaked := leakedWaits(); leaked != "" {
		fmt.Fprintln(os.Stderr, "goroutines of WaitContainer still running after the tests:\n"+leaked)
		code = 1
	}
	return code
}

// missing says why the tests cannot run here: only when not root or when
// a program they need is not installed.
func missing() string {
	if os.Geteuid() != 0 {
		return "root (containers)"
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "the go command (the demo image is compiled)"
	}
	if err := host.Check(append(append([]host.Requirement{}, host.Node...), host.Busybox)...); err != nil {
		return err.Error()
	}
	return ""
}

func setUp() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.Command("ip", "route", "show", "match", "10.213.2.1").Output()
	if err != nil {
		return 1, err
	}
	if strings.Contains(string(out), "10.213.2.") {
		return 1, fmt.Errorf("%s is routed on this machine already:\n%s", testSubnet, out)
	}
	// Short: unix socket paths are limited to 107 bytes.
	env.dir, err = os.MkdirTemp("", "wake-rt-")
	if err != nil {
		return 1, err
	}
	env.daemon, err = ctrd.Ensure(ctx, ctrd.Config{StateDir: filepath.Join(env.dir, "containerd")})
	if err != nil {
		return 1, err
	}
	env.network, err = cni.New(cni.Config{
		BridgeName: fmt.Sprintf("wkt-rt%d", os.Getpid()%100000),
		Subnet:     testSubnet,
		CacheDir:   filepath.Join(env.dir, "cni", "cache"),
		DataDir:    filepath.Join(env.dir, "cni", "ipam"),
	})
	if err != nil {
		return 1, err
	}
	env.subnet = testSubnet
	env.config = containerd.Config{
		Socket:    env.daemon.Socket,
		Namespace: fmt.Sprintf("wake-rt-test-%d", os.Getpid()),
		StateDir:  filepath.Join(env.dir, "state"),
		Network:   env.network,
	}
	env.rt, err = containerd.New(ctx, env.config)
	if err != nil {
		return 1, err
	}
	imgs, err := images.Demo(ctx, env.dir)
	if err != nil {
		return 1, err
	}
	var archive bytes.Buffer
	if err := image.WriteArchive(&archive, imgs); err != nil {
		return 1, err
	}
	start := time.Now()
	imported, err := env.rt.ImportImages(ctx, &archive)
	if err != nil {
		return 1, err
	}
	fmt.Printf("imported %d demo images in %v\n", len(imported), time.Since(start).Round(time.Millisecond))
	return 0, nil
}

// tearDown removes every container, sandbox and image the tests made, the
// containerd namespace, the bridge, the daemon and the directory.
func tearDown() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if env.rt != nil {
		if cs, err := env.rt.ListContainers(ctx); err == nil {
			for _, c := range cs {
				errs = append(errs, env.rt.RemoveContainer(ctx, c.ID))
			}
		} else {
			errs = append(errs, err)
		}
		if sbs, err := env.rt.ListSandboxes(ctx); err == nil {
			for _, sb := range sbs {
				errs = append(errs, env.rt.RemoveSandbox(ctx, sb.ID))
			}
		} else {
			errs = append(errs, err)
		}
		nsCtx := namespaces.WithNamespace(ctx, env.config.Namespace)
		c := env.rt.Client()
		if imgs, err := c.ImageService().List(nsCtx); err == nil {
			for _, img := range imgs {
				errs = append(errs, c.ImageService().Delete(nsCtx, img.Name))
			}
		}
		// A lease whose release was cancelled with its context (a creation or
		// pull that a test's deadline cut short) holds content and snapshots
		// for a day: release what this test namespace still holds.
		if ls, err := c.LeasesService().List(nsCtx); err == nil {
			for _, l := range ls {
				errs = append(errs, c.LeasesService().Delete(nsCtx, l, leases.SynchronousDelete))
			}
		} else {
			errs = append(errs, err)
		}
		// The namespace can be deleted once the garbage collector has
		// dropped its content and snapshots: that is asynchronous, and slow
		// while other test packages load the machine.
		var nsErr error
		for range 300 {
			if nsErr = c.NamespaceService().Delete(nsCtx, env.config.Namespace); nsErr == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if nsErr != nil {
			nsErr = fmt.Errorf("%w (left: %s)", nsErr, leftovers(nsCtx, c))
		}
		errs = append(errs, nsErr, env.rt.Close())
	}
	if env.network != nil {
		errs = append(errs, env.network.Destroy(ctx))
	}
	if env.daemon != nil {
		errs = append(errs, env.daemon.Stop())
	}
	if env.dir != "" {
		errs = append(errs, unmountUnder(env.dir), os.RemoveAll(env.dir))
		// containerd 1.6's shim keeps runc state in /run/containerd/runc/<ns>,
		// and runc a cgroup per controller.
		teardown.RemoveNamespaceState(env.config.Namespace)
	}
	return errors.Join(errs...)
}

// unmountUnder detaches whatever is still mounted below dir (it should be
// nothing) and says so.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mounts = append(mounts, f[4])
		}
	}
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		unix.Unmount(m, unix.MNT_DETACH)
	}
	if len(mounts) > 0 {
		return fmt.Errorf("still mounted after the tests: %s", strings.Join(mounts, ", "))
	}
	return nil
}

// leakedWaits returns the stacks of WaitContainer goroutines still alive a
// moment after everything was removed.
func leakedWaits() string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var buf bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&buf, 2)
		var leaked []string
		for _, g := range strings.Split(buf.String(), "\n\n") {
			if strings.Contains(g, "containerd.(*Runtime).WaitContainer") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		goruntime.Gosched()
		time.Sleep(50 * time.Millisecond)
	}
}

// rt returns the shared runtime, or skips the test where it cannot run.
func rt(t testing.TB) *containerd.Runtime {
	t.Helper()
	if env.skip != "" {
		hosttest.Unmet(t, env.skip)
	}
	return env.rt
}

var _ runtime.Runtime = (*containerd.Runtime)(nil)

// leftovers names what keeps a test namespace from being deleted.
func leftovers(ctx context.Context, c *client.Client) string {
	var out []string
	if ctrs, err := c.Containers(ctx); err == nil {
		for _, ctr := range ctrs {
			out = append(out, "container "+ctr.ID())
		}
	}
	if ls, err := c.LeasesService().List(ctx); err == nil {
		for _, l := range ls {
			out = append(out, "lease "+l.ID)
		}
	}
	_ = c.SnapshotService("overlayfs").Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		out = append(out, "snapshot "+info.Name)
		return nil
	})
	return strings.Join(out, ", ")
}
