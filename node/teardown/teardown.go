// Package teardown takes a node of wake out of service, as k3s's
// killall script does for k3s: it stops every pod of the node within its
// grace period, releases their networks (CNI DEL), unmounts their
// namespaces, removes the pod network's bridge and iptables rules and the
// service proxy's nftables table and route, stops
// the private containerd (and its shims) that the agent started, puts back
// the host settings wake changed, and, with Purge, removes the data.
//
// Ctrl-C on `wake up` leaves pods running on purpose (the next start adopts
// them); a teardown is how they are stopped. It refuses to run while a
// wake process holds the data or state directory: that process would
// restart what the teardown stops.
package teardown

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wake-run/wake/node/cni"
	"github.com/wake-run/wake/node/containerd"
	"github.com/wake-run/wake/node/runtime"
	crt "github.com/wake-run/wake/node/runtime/containerd"
	"golang.org/x/sys/unix"
)

// LabelGracePeriod is the container label (kubelet's name for it) holding
// the pod's terminationGracePeriodSeconds, which the agent sets so that a
// teardown without the agent knows each pod's grace period.
const LabelGracePeriod = "io.kubernetes.pod.terminationGracePeriod"

// DefaultGracePeriod is the grace of a container without the label
// (Kubernetes' default terminationGracePeriodSeconds).
const DefaultGracePeriod = 30 * time.Second

// Config says which node to take down: the same settings `wake up` or
// `wake agent` ran it with.
type Config struct {
	// DataDir is the control plane's data directory (`wake up`), "" for a
	// node without one (`wake agent`). Its lock is checked; Purge removes it.
	DataDir string
	// StateDir is the agent's state directory; required.
	StateDir string
	// Socket is the containerd socket the agent used; "" is the private
	// containerd under StateDir/containerd, which the teardown stops.
	Socket string
	// Namespace is the node's containerd namespace; "" is "wake".
	Namespace string
	// Bridge and PodCIDR are the pod network's; "" is wake0 and 10.88.0.0/24.
	Bridge, PodCIDR string
	// GracePeriod, when set, replaces every pod's grace period; 0 kills at once.
	GracePeriod *time.Duration
	// Purge also removes StateDir, DataDir and the images.
	Purge bool
	// Printf is told of each thing stopped or removed, one line each; nil
	// discards.
	Printf func(format string, args ...any)
}

type teardown struct {
	cfg     Config
	done    int
	network *cni.Network
	printf  func(string, ...any)
	mu      sync.Mutex
}

func (t *teardown) say(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done++
	if t.printf != nil {
		t.printf(format, args...)
	}
}

// Run takes the node down and returns how many things it stopped or
// removed: 0 means nothing of the node was left, so a second Run after a
// successful one returns 0. It fails with an error wrapping ErrInUse,
// naming the PID, when a wake process holds DataDir or StateDir. It goes on
// after a step fails, and returns the errors of every failed step.
func Run(ctx context.Context, cfg Config) (int, error) {
	if cfg.StateDir == "" {
		return 0, errors.New("teardown: Config.StateDir is required")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "wake"
	}
	if cfg.Bridge == "" {
		cfg.Bridge = "wake0"
	}
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = "10.88.0.0/24"
	}
	for _, d := range []*string{&cfg.DataDir, &cfg.StateDir} {
		if *d != "" {
			abs, err := filepath.Abs(*d)
			if err != nil {
				return 0, err
			}
			*d = abs
		}
	}
	if cfg.DataDir != "" {
		release, err := probe(filepath.Join(cfg.DataDir, ServerLock))
		if err != nil {
			return 0, err
		}
		defer release()
	}
	release, err := probe(filepath.Join(cfg.StateDir, AgentLock))
	if err != nil {
		return 0, err
	}
	defer release()
	if cfg.Purge {
		for _, d := range []string{cfg.DataDir, cfg.StateDir} {
			if err := purgeable(d); err != nil {
				return 0, err
			}
		}
	}
	t := &teardown{cfg: cfg, printf: cfg.Printf}
	if err := t.checkNetwork(); err != nil {
		return 0, err
	}
	t.network, err = cni.New(cni.Config{BridgeName: cfg.Bridge, Subnet: cfg.PodCIDR, IPMasq: true,
		CacheDir: filepath.Join(cfg.StateDir, "cni", "cache"), DataDir: filepath.Join(cfg.StateDir, "cni", "ipam")})
	if err != nil {
		return 0, err
	}
	errs := []error{t.stopPods(ctx)}
	errs = append(errs, t.stopContainerd(), t.unmount(), t.removeProxy(ctx), t.removeNetwork(ctx), t.restoreHost(ctx))
	if cfg.Purge {
		// A containerd or a shim still running from inside a directory (an
		// agent state this teardown was not pointed at: another --state-dir)
		// would lose its state under its running pods.
		if err := runningFrom(processes(), cfg.DataDir, cfg.StateDir); err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, t.purge())
		}
	}
	return t.done, errors.Join(errs...)
}

// grace is how long a container may take to stop.
func (t *teardown) grace(labels map[string]string) time.Duration {
	if t.cfg.GracePeriod != nil {
		return *t.cfg.GracePeriod
	}
	if s, err := strconv.ParseInt(labels[LabelGracePeriod], 10, 64); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return DefaultGracePeriod
}

func (t *teardown) containerdDir() string { return filepath.Join(t.cfg.StateDir, "containerd") }
func (t *teardown) runtimeDir() string    { return filepath.Join(t.cfg.StateDir, "runtime") }

func (t *teardown) socket() string {
	if t.cfg.Socket != "" {
		return t.cfg.Socket
	}
	return filepath.Join(t.containerdDir(), "containerd.sock")
}

// sandboxIDs are the sandboxes the runtime's state directory knows of,
// whole or half created or removed.
func (t *teardown) sandboxIDs() []string {
	var ids []string
	for _, sub := range []string{"sandboxes", "netns"} {
		entries, _ := os.ReadDir(filepath.Join(t.runtimeDir(), sub))
		for _, e := range entries {
			if !slices.Contains(ids, e.Name()) {
				ids = append(ids, e.Name())
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// stopPods stops and removes every container of the namespace, then every
// sandbox (CNI DEL, namespaces unmounted). A private containerd that is not
// running is started for it when anything is left to stop.
func (t *teardown) stopPods(ctx context.Context) error {
	ids := t.sandboxIDs()
	shims := shimPIDs(processes(), t.socket(), t.cfg.Namespace)
	if len(ids) == 0 && len(shims) == 0 {
		return nil
	}
	private := t.cfg.Socket == ""
	if private && len(daemonPIDs(processes(), filepath.Join(t.containerdDir(), "config.toml"))) == 0 {
		d, err := containerd.Ensure(ctx, containerd.Config{StateDir: t.containerdDir()})
		if err != nil {
			t.releaseWithoutContainerd(ctx, ids)
			return fmt.Errorf("start containerd to stop its containers: %w", err)
		}
		if d.PID != 0 {
			t.say("containerd was not running: started it (pid %d) to stop its containers", d.PID)
		}
	}
	rt, err := crt.New(ctx, crt.Config{Socket: t.socket(), Namespace: t.cfg.Namespace, StateDir: t.runtimeDir(), Network: t.network})
	if err != nil {
		t.releaseWithoutContainerd(ctx, ids)
		return err
	}
	defer rt.Close()
	sbs, err := rt.ListSandboxes(ctx)
	if err != nil {
		return err
	}
	pods := map[string]runtime.Sandbox{}
	for _, sb := range sbs {
		pods[sb.ID] = sb
	}
	ctrs, err := rt.ListContainers(ctx)
	if err != nil {
		return err
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range ctrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			grace := t.grace(c.Labels)
			start := time.Now()
			var err error
			if c.State == runtime.ContainerRunning {
				err = rt.StopContainer(ctx, c.ID, grace)
			}
			if err == nil {
				err = rt.RemoveContainer(ctx, c.ID)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			what := "container " + c.ID
			if sb, ok := pods[c.SandboxID]; ok {
				what = fmt.Sprintf("pod %s/%s container %s", sb.Namespace, sb.Name, c.Name)
			}
			if c.State == runtime.ContainerRunning {
				t.say("%s stopped in %s (grace %s)", what, time.Since(start).Round(10*time.Millisecond), grace)
			} else {
				t.say("%s removed (%s)", what, c.State)
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if err := rt.RemoveSandbox(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		if sb, ok := pods[id]; ok {
			t.say("pod %s/%s: network released (%s) and namespaces removed", sb.Namespace, sb.Name, sb.IP)
		} else {
			t.say("sandbox %s: half-made network and namespaces removed", id)
		}
	}
	return errors.Join(errs...)
}

// releaseWithoutContainerd does what can be done without containerd:
// CNI DEL of each sandbox (the namespaces are unmounted later).
func (t *teardown) releaseWithoutContainerd(ctx context.Context, ids []string) {
	for _, id := range ids {
		netns := filepath.Join(t.runtimeDir(), "netns", id)
		if err := t.network.Teardown(ctx, id, netns, nil); err == nil {
			t.say("sandbox %s: network released", id)
		}
	}
}

// stopContainerd stops the private containerd, then the shims still
// serving it (or, for a shared containerd, this namespace) with the
// processes under them.
func (t *teardown) stopContainerd() error {
	var errs []error
	if t.cfg.Socket == "" {
		pids := daemonPIDs(processes(), filepath.Join(t.containerdDir(), "config.toml"))
		if left := terminate(pids, 10*time.Second); len(left) > 0 {
			errs = append(errs, fmt.Errorf("containerd (pid %v) did not exit", left))
		}
		for _, pid := range pids {
			t.say("containerd (pid %d) stopped", pid)
		}
		os.Remove(t.socket())
	}
	// A shim exits by itself once its last task is deleted; give it a moment.
	var shims []int
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		shims = shimPIDs(processes(), t.socket(), t.cfg.Namespace)
		if len(shims) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(shims) > 0 {
		ps := processes()
		under := descendants(ps, shims)
		if left := terminate(append(under, shims...), 0); len(left) > 0 {
			errs = append(errs, fmt.Errorf("processes %v did not exit after SIGKILL", left))
		}
		for _, pid := range shims {
			t.say("containerd shim (pid %d) killed", pid)
		}
		if len(under) > 0 {
			t.say("%d container processes left by the shims killed: %v", len(under), under)
		}
	}
	return errors.Join(errs...)
}

// unmount unmounts whatever is still mounted under the state and data
// directories (network and UTS namespaces of pods, container root
// filesystems), deepest first, and removes the namespace files left.
func (t *teardown) unmount() error {
	var errs []error
	mounts := mountsUnder(t.cfg.StateDir, t.cfg.DataDir)
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
			continue
		}
		t.say("unmounted %s", m)
	}
	for _, id := range t.sandboxIDs() {
		os.Remove(filepath.Join(t.runtimeDir(), "netns", id))
		os.RemoveAll(filepath.Join(t.runtimeDir(), "sandboxes", id))
	}
	return errors.Join(errs...)
}

// mountsUnder lists the mount points under the given directories from
// /proc/self/mountinfo, deepest first.
func mountsUnder(dirs ...string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	return mountPointsUnder(string(b), dirs...)
}

// mountPointsUnder picks from mountinfo the mount points under dirs,
// deepest (longest) first, each once.
func mountPointsUnder(mountinfo string, dirs ...string) []string {
	var out []string
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		for _, d := range dirs {
			if d != "" && strings.HasPrefix(mp, d+"/") && !slices.Contains(out, mp) {
				out = append(out, mp)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeNetwork deletes the bridge, the IPAM reservations and the iptables
// rules and chains the plugins made for this network.
func (t *teardown) removeNetwork(ctx context.Context) error {
	var errs []error
	_, bridgeErr := os.Stat(filepath.Join("/sys/class/net", t.cfg.Bridge))
	ipam, _ := os.ReadDir(filepath.Join(t.cfg.StateDir, "cni", "ipam", "wake-"+t.cfg.Bridge))
	if bridgeErr == nil || len(ipam) > 0 {
		if err := t.network.Destroy(ctx); err != nil {
			errs = append(errs, err)
		} else if bridgeErr == nil {
			t.say("bridge %s deleted", t.cfg.Bridge)
		}
	}
	for _, table := range []string{"nat", "filter"} {
		ipt := iptables{table: table}
		lines, err := ipt.list(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s := networkRules(lines, "wake-"+t.cfg.Bridge, t.cfg.PodCIDR)
		if s.empty() {
			continue
		}
		if err := ipt.apply(ctx, s); err != nil {
			errs = append(errs, err)
		}
		t.say("iptables %s: %d rules and %d chains of network wake-%s removed", table, len(s.rules), len(s.chains), t.cfg.Bridge)
	}
	return errors.Join(errs...)
}

// RemoveNamespaceState removes the cgroups (every controller's, deepest
// first) and the runc state directory that containerd and runc leave for a
// containerd namespace once its containers are gone, and returns how many
// directories it removed. A directory that still holds anything (a live
// container's cgroup or state) stays.
func RemoveNamespaceState(namespace string) int {
	if namespace == "" || strings.ContainsAny(namespace, "/*?[") {
		return 0
	}
	removed := 0
	roots, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", namespace))
	roots = append(roots, filepath.Join("/sys/fs/cgroup", namespace), filepath.Join(runContainerd, "runc", namespace))
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- { // children before parents
			if os.Remove(dirs[i]) == nil {
				removed++
			}
		}
	}
	return removed
}

// restoreHost puts back what the host record says wake changed: portmap's
// top-level chains when no network maps ports any more, ip_forward when no
// other bridge needs it, /run/containerd; and removes the namespace's
// cgroups and runc state directories.
func (t *teardown) restoreHost(ctx context.Context) error {
	var errs []error
	if RemoveNamespaceState(t.cfg.Namespace) > 0 {
		t.say("cgroups and runc state of containerd namespace %s removed", t.cfg.Namespace)
	}
	rec, ok, err := readHost(t.cfg.StateDir)
	if err != nil || !ok {
		return err
	}
	if !rec.HostportChains {
		ipt := iptables{table: "nat"}
		if lines, err := ipt.list(ctx); err != nil {
			errs = append(errs, err)
		} else if s, inUse := hostportRules(lines); !inUse && !s.empty() {
			if err := ipt.apply(ctx, s); err != nil {
				errs = append(errs, err)
			}
			t.say("iptables nat: portmap chains %s removed (wake created them; no network maps ports now)", strings.Join(s.chains, ", "))
		}
	}
	if b, err := os.ReadFile(ipForwardPath); err == nil && rec.IPForward != "" && strings.TrimSpace(string(b)) != rec.IPForward {
		if others := bridgesInUse(); len(others) > 0 {
			t.say("net.ipv4.ip_forward left at %s: bridges %s still have interfaces", strings.TrimSpace(string(b)), strings.Join(others, ", "))
		} else if err := os.WriteFile(ipForwardPath, []byte(rec.IPForward+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore net.ipv4.ip_forward: %w", err))
		} else {
			t.say("net.ipv4.ip_forward restored to %s", rec.IPForward)
		}
	}
	if !rec.RunContainerd {
		n := 0
		for _, d := range []string{filepath.Join(runContainerd, "runc"), filepath.Join(runContainerd, "s"), runContainerd} {
			if os.Remove(d) == nil {
				n++
			}
		}
		if n > 0 {
			t.say("%s removed (the shims created it)", runContainerd)
		}
	}
	if len(errs) == 0 {
		os.Remove(filepath.Join(t.cfg.StateDir, HostFile))
	}
	return errors.Join(errs...)
}

// purgeable refuses to remove a directory that is not wake's.
func purgeable(dir string) error {
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, mark := range []string{ServerLock, AgentLock, HostFile, "projections", "projection", "agent", "runtime", "containerd", "cni"} {
		if _, err := os.Stat(filepath.Join(dir, mark)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("--purge: %s does not look like a wake data or state directory (no %s, %s, agent/, projections/ or runtime/): not removing it", dir, ServerLock, AgentLock)
}

// runningFrom refuses a purge while a process runs with an argument inside one
// of dirs (a containerd's --config, a shim's -address), naming them.
func runningFrom(procs []process, dirs ...string) error {
	var found []string
	for _, p := range procs {
		if p.pid == os.Getpid() {
			continue
		}
		for _, a := range p.args {
			if slices.ContainsFunc(dirs, func(d string) bool { return d != "" && strings.HasPrefix(a, d+"/") }) {
				found = append(found, fmt.Sprintf("pid %d (%s)", p.pid, strings.Join(p.args, " ")))
				break
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	return fmt.Errorf("--purge: not removing the data: processes still run from it, so its pods were not stopped (is --state-dir the one the agent used?): %s", strings.Join(found, "; "))
}

// purge removes the state and data directories.
func (t *teardown) purge() error {
	var errs []error
	for _, d := range []string{t.cfg.StateDir, t.cfg.DataDir} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
			continue
		}
		t.say("%s removed", d)
	}
	return errors.Join(errs...)
}
