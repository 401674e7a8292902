package agent_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/node/agent"
	"github.com/wake-run/wake/node/teardown"
)

// startPrivateCluster is startCluster with the agent starting its own
// containerd under its state directory, as `wake up` does, so that a
// teardown has a private containerd to stop. Cleanup is a teardown.
func startPrivateCluster(t *testing.T) *cluster {
	srv, c, discard := startControlPlane(t, 0)
	// Short: the containerd socket under it must fit in 107 bytes.
	state, err := os.MkdirTemp("", "wkdn")
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{t: t, srv: srv, c: c, socket: filepath.Join(state, "agent", "containerd", "containerd.sock"),
		cfg: agent.Config{NodeName: "node-1", StateDir: filepath.Join(state, "agent"), Namespace: "wake-down",
			PodCIDR: "10.66.0.0/24", Bridge: "wke2e0", Logger: discard}}
	t.Cleanup(func() {
		cl.stopAgent()
		if _, err := teardown.Run(context.Background(), cl.teardownConfig(true, nil)); err != nil {
			t.Errorf("cleanup teardown: %v", err)
		}
		os.RemoveAll(state)
	})
	cl.startAgent()
	return cl
}

func (cl *cluster) teardownConfig(purge bool, grace *time.Duration) teardown.Config {
	return teardown.Config{StateDir: cl.cfg.StateDir, Namespace: cl.cfg.Namespace, Bridge: cl.cfg.Bridge,
		PodCIDR: cl.cfg.PodCIDR, Purge: purge, GracePeriod: grace, Printf: cl.t.Logf}
}

// hostState is what a teardown must leave as it found it.
type hostState struct {
	procs  map[int]string // pid -> command line
	mounts []string       // mount points
	links  map[string]string
	rules  []string // iptables -S of nat and filter, nft list ruleset (without counters)
}

var nftCounter = regexp.MustCompile(`counter packets \d+ bytes \d+`)

func snapshotHost(t *testing.T) hostState {
	t.Helper()
	h := hostState{procs: map[int]string{}, links: map[string]string{}}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err == nil && len(cmd) > 0 && procAlive(pid) {
			h.procs[pid] = strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " ")
		}
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(info), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			h.mounts = append(h.mounts, f[4])
		}
	}
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		master := ""
		if i := slices.Index(f, "master"); i >= 0 && i+1 < len(f) {
			master = f[i+1]
		}
		h.links[name] = master
	}
	for _, args := range [][]string{{"iptables", "-w", "-t", "nat", "-S"}, {"iptables", "-w", "-t", "filter", "-S"}, {"nft", "list", "ruleset"}} {
		out, err := exec.Command(args[0], args[1:]...).Output()
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			h.rules = append(h.rules, args[0]+": "+strings.TrimSpace(nftCounter.ReplaceAllString(l, "counter")))
		}
	}
	return h
}

func procAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// othersTests matches what other tests running on this machine at the same
// time create and remove (their bridges, pod CIDRs, temporary directories,
// veths and per-pod CNI chains): its coming and going is not this teardown's.
var othersTests = regexp.MustCompile(`wke2e|wk[a-z-]+[0-9]|10\.6[0-9]\.|10\.213\.|/tmp/|veth|CNI-[0-9a-f]{20,}|CNI-DN-|cni-|sandboxes|netns|wake-`)

// webWithHostPort also mounts a Secret: its files live on a tmpfs of the
// node's that wake down must unmount.
const webWithHostPort = `apiVersion: v1
kind: Secret
metadata: {name: down-token}
stringData: {token: s3cr3t-down}
---
apiVersion: v1
kind: Pod
metadata: {name: mapped}
spec:
  terminationGracePeriodSeconds: 5
  volumes: [{name: token, secret: {secretName: down-token}}]
  containers:
  - name: web
    image: wake.local/hostname-web:1
    ports: [{containerPort: 8080, hostPort: 18491}]
    volumeMounts: [{name: token, mountPath: /etc/token}]
`

func TestDownLeavesNothingOfTheNodeBehind(t *testing.T) {
	needRealNode(t)
	before := snapshotHost(t)
	cl := startPrivateCluster(t)
	importDemo(t, cl)
	cl.apply(webDeployment)
	cl.apply(webWithHostPort)
	eventually(t, "4 pods running", 60*time.Second, func() bool {
		n := 0
		for _, p := range cl.pods("") {
			if running(p) {
				n++
			}
		}
		return n == 4
	})
	during := snapshotHost(t)
	if !slices.ContainsFunc(during.mounts, func(m string) bool {
		return strings.HasPrefix(m, cl.cfg.StateDir+"/pods/") && strings.HasSuffix(m, "/volumes/token")
	}) {
		t.Fatalf("no tmpfs of the Secret volume under %s/pods while its pod runs: %v", cl.cfg.StateDir, during.mounts)
	}

	// What the node runs: its containerd, the shims serving it, and the
	// containers under them.
	state := cl.cfg.StateDir
	var ours []int
	for pid, cmd := range during.procs {
		if strings.Contains(cmd, state) {
			ours = append(ours, pid)
		}
	}
	var shimsAndDaemon = slices.Clone(ours)
	for pid := range during.procs {
		if slices.Contains(shimsAndDaemon, ppidOf(pid)) {
			ours = append(ours, pid)
		}
	}
	if len(ours) < 1+1+4 {
		t.Fatalf("expected containerd, shims and 4 containers of the node, found %d processes: %v", len(ours), ours)
	}
	var veths []string
	for name, master := range during.links {
		if master == cl.cfg.Bridge {
			veths = append(veths, name)
		}
	}
	if _, ok := during.links[cl.cfg.Bridge]; !ok || len(veths) != 4 {
		t.Fatalf("bridge %s with 4 veths expected, links: %v", cl.cfg.Bridge, during.links)
	}
	ourRule := func(r string) bool {
		return strings.Contains(r, "wake-"+cl.cfg.Bridge) || strings.Contains(r, "10.66.0.")
	}
	if n := countFunc(during.rules, ourRule); n == 0 {
		t.Fatal("no iptables rule of the pod network while pods run")
	}
	var ourChains []string
	for _, r := range during.rules {
		if ourRule(r) {
			if f := strings.Fields(r); slices.Contains(f, "-j") {
				if target := f[slices.Index(f, "-j")+1]; strings.HasPrefix(target, "CNI-") && !strings.HasPrefix(target, "CNI-HOSTPORT") {
					ourChains = append(ourChains, target)
				}
			}
		}
	}

	// While the agent runs, the teardown refuses, naming it.
	_, err := teardown.Run(context.Background(), cl.teardownConfig(true, nil))
	var inUse *teardown.InUseError
	if !errors.As(err, &inUse) || !errors.Is(err, teardown.ErrInUse) || inUse.PID != strconv.Itoa(os.Getpid()) {
		t.Fatalf("teardown while the agent runs: %v, want an InUseError naming pid %d", err, os.Getpid())
	}

	cl.stopAgent() // as Ctrl-C: the pods keep running
	for _, pid := range ours {
		if !procAlive(pid) {
			t.Fatalf("process %d (%s) ended with the agent", pid, during.procs[pid])
		}
	}
	n, err := teardown.Run(context.Background(), cl.teardownConfig(true, nil))
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("teardown says nothing was left")
	}
	after := snapshotHost(t)

	for _, pid := range ours {
		if procAlive(pid) {
			t.Errorf("process %d is left: %s", pid, during.procs[pid])
		}
	}
	for pid, cmd := range after.procs {
		if strings.Contains(cmd, state) || strings.Contains(cmd, cl.cfg.Namespace+" ") {
			t.Errorf("process %d of the node is left: %s", pid, cmd)
		}
	}
	for _, m := range after.mounts {
		if strings.HasPrefix(m, state) {
			t.Errorf("mount %s is left", m)
		}
	}
	if _, ok := after.links[cl.cfg.Bridge]; ok {
		t.Errorf("bridge %s is left", cl.cfg.Bridge)
	}
	for _, v := range veths {
		if _, ok := after.links[v]; ok {
			t.Errorf("veth %s is left", v)
		}
	}
	for _, r := range after.rules {
		if ourRule(r) {
			t.Errorf("rule left: %s", r)
		}
		for _, c := range ourChains {
			if strings.Contains(r, c) {
				t.Errorf("rule of chain %s left: %s", c, r)
			}
		}
	}
	if !slices.Contains(before.rules, "iptables: -N CNI-HOSTPORT-DNAT") && slices.Contains(after.rules, "iptables: -N CNI-HOSTPORT-DNAT") &&
		!slices.ContainsFunc(after.rules, func(r string) bool { return strings.HasPrefix(r, "iptables: -A CNI-HOSTPORT-DNAT") }) {
		t.Error("portmap's chains, which the node created, are left though no network maps a port")
	}
	for _, d := range []string{state, "/sys/fs/cgroup/memory/" + cl.cfg.Namespace, "/run/containerd/runc/" + cl.cfg.Namespace} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s is left", d)
		}
	}

	// What was there before the cluster is still there.
	for _, m := range before.mounts {
		if !slices.Contains(after.mounts, m) && !othersTests.MatchString(m) {
			t.Errorf("mount %s, there before the cluster, is gone", m)
		}
	}
	for l := range before.links {
		if _, ok := after.links[l]; !ok && !othersTests.MatchString(l) {
			t.Errorf("link %s, there before the cluster, is gone", l)
		}
	}
	for _, r := range before.rules {
		if !slices.Contains(after.rules, r) && !othersTests.MatchString(r) {
			t.Errorf("rule %q, there before the cluster, is gone", r)
		}
	}

	// A second teardown finds nothing.
	if n, err := teardown.Run(context.Background(), cl.teardownConfig(true, nil)); n != 0 || err != nil {
		t.Errorf("second teardown: %d things, %v; want nothing left", n, err)
	}
}

func TestDownStopsAPodWithinTheGivenGracePeriod(t *testing.T) {
	cl := startPrivateCluster(t)
	importDemo(t, cl)
	cl.apply(`apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 600
  containers:
  - name: sh
    image: ` + images.BusyboxRef + `
    imagePullPolicy: Never
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
`)
	eventually(t, "pod running", 60*time.Second, func() bool { return running(cl.pod("stubborn")) })
	cl.stopAgent()
	// The private containerd died too: the teardown starts it again to reach
	// the shims, and stops it after.
	killed := 0
	for pid, cmd := range snapshotHost(t).procs {
		if strings.Contains(cmd, "containerd --config "+cl.cfg.StateDir) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("found %d private containerds, want 1", killed)
	}
	// SIGKILL is delivered, not done: wait until it has died, as a user's
	// containerd would be long dead before `wake down`.
	eventually(t, "containerd dead", 10*time.Second, func() bool {
		for _, cmd := range snapshotHost(t).procs {
			if strings.Contains(cmd, "containerd --config "+cl.cfg.StateDir) {
				return false
			}
		}
		return true
	})

	grace := 2 * time.Second
	start := time.Now()
	if _, err := teardown.Run(context.Background(), cl.teardownConfig(false, &grace)); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < grace {
		t.Errorf("teardown took %s: the pod ignores SIGTERM, so it should have waited its grace of %s", took, grace)
	}
	if took > grace+15*time.Second {
		t.Errorf("teardown took %s, far beyond --grace-period %s (the pod's own is 600s)", took, grace)
	}
	// Without --purge the state stays (images, projection), the pods do not.
	if entries, _ := os.ReadDir(filepath.Join(cl.cfg.StateDir, "runtime", "sandboxes")); len(entries) != 0 {
		t.Errorf("sandboxes left: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(cl.cfg.StateDir, "containerd", "root")); err != nil {
		t.Errorf("without purge the images stay: %v", err)
	}
	for pid, cmd := range snapshotHost(t).procs {
		// The pod's own command (the node's log copiers also trap TERM, and
		// other packages' tests run beside this one).
		if strings.Contains(cmd, cl.cfg.StateDir) || strings.Contains(cmd, "trap '' TERM; while true; do sleep 1; done") {
			t.Errorf("process %d is left: %s", pid, cmd)
		}
	}
	// Nothing left to stop: a second teardown says so.
	if n, err := teardown.Run(context.Background(), cl.teardownConfig(false, &grace)); n != 0 || err != nil {
		t.Errorf("second teardown: %d things, %v; want nothing left", n, err)
	}
}

func ppidOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

func countFunc(s []string, f func(string) bool) int {
	n := 0
	for _, x := range s {
		if f(x) {
			n++
		}
	}
	return n
}
