package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wake-run/wake/node/host/hosttest"
	"github.com/wake-run/wake/node/teardown"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/agent"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/node/cni"
	"github.com/wake-run/wake/node/containerd"
	"github.com/wake-run/wake/node/image"
	"github.com/wake-run/wake/node/runtime"
	crt "github.com/wake-run/wake/node/runtime/containerd"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/credentials"
	corev1 "k8s.io/api/core/v1"
)

// cluster is a control plane and one node agent on real containerd, runc and CNI.
type cluster struct {
	t      testing.TB
	srv    *controlplane.Server
	c      *client.Client
	cfg    agent.Config
	stop   context.CancelFunc
	done   chan error
	socket string
	// metrics serves the running agent's /metrics (a registry per start).
	metrics *agent.MetricsServer
}

func needRealNode(t testing.TB) {
	t.Helper()
	hosttest.RequireNode(t)
}

func startCluster(t *testing.T) *cluster {
	return startClusterWith(t, 0, "node-1", "10.66.0.0/24", "wke2e0")
}

// startClusterB is startCluster for benchmarks, with the demo images imported.
func startClusterB(b *testing.B) *cluster {
	cl := startClusterWith(b, 0, "node-1", "10.66.0.0/24", "wke2e0")
	importDemo(b, cl)
	return cl
}

// startControlPlane starts a control plane (nodes NotReady after grace; 0 is
// the default) and an admin client of it, both ended with the test.
func startControlPlane(t testing.TB, grace time.Duration) (*controlplane.Server, *client.Client, *slog.Logger) {
	t.Helper()
	needRealNode(t)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := controlplane.Start(context.Background(), controlplane.Config{DataDir: t.TempDir(), Port: -1, Logger: discard, NodeGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return srv, c, discard
}

// deployment is a Deployment of hostname-web named name (and labelled
// app=name) in namespace ("" for the client's), with its replicas and grace.
func deployment(name, namespace string, replicas, grace int) string {
	ns := ""
	if namespace != "" {
		ns = ", namespace: " + namespace
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s%s}
spec:
  replicas: %d
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      terminationGracePeriodSeconds: %d
      containers:
      - name: web
        image: wake.local/hostname-web:1
        ports: [{containerPort: 8080}]
`, name, ns, replicas, name, name, grace)
}

func startClusterWith(t testing.TB, grace time.Duration, node, cidr, bridge string) *cluster {
	ctx := context.Background()
	srv, c, discard := startControlPlane(t, grace)
	state, err := os.MkdirTemp("", "wkag")
	if err != nil {
		t.Fatal(err)
	}
	d, err := containerd.Ensure(ctx, containerd.Config{StateDir: filepath.Join(state, "ctrd")})
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{t: t, srv: srv, c: c, socket: d.Socket, cfg: agent.Config{NodeName: node, StateDir: filepath.Join(state, "agent"),
		Socket: d.Socket, Namespace: "wake-" + node, PodCIDR: cidr, Bridge: bridge, Logger: discard}}
	t.Cleanup(func() {
		cl.stopAgent()
		cl.removeAll(ctx)
		cl.sweep(d.Socket)
		d.Stop()
		killShims(t, d.Socket)
		teardown.RemoveNamespaceState(cl.cfg.Namespace)
		os.RemoveAll(state)
	})
	cl.startAgent()
	return cl
}

// sweep removes whatever of the node's network removeAll left (a pod's CNI
// rules, the bridge), as wake down does, so no test leaves rules on the
// machine; it logs what it found, which is a leak worth chasing.
func (cl *cluster) sweep(socket string) {
	zero := time.Duration(0)
	var said []string
	n, err := teardown.Run(context.Background(), teardown.Config{StateDir: cl.cfg.StateDir, Socket: socket, Namespace: cl.cfg.Namespace,
		Bridge: cl.cfg.Bridge, PodCIDR: cl.cfg.PodCIDR, GracePeriod: &zero,
		Printf: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }})
	// The namespace's parent cgroups and runc root outlive its last
	// container until a teardown, and the service proxy's table and route
	// outlive its agent by design (pods keep reaching Services while it
	// restarts): not leftovers of any pod.
	var leftovers []string
	for _, s := range said {
		if !strings.HasPrefix(s, "cgroups and runc state of containerd namespace") &&
			!strings.HasPrefix(s, "nftables table ip wake-") && !strings.HasPrefix(s, "route to services ") {
			leftovers = append(leftovers, s)
		}
	}
	if err != nil || len(leftovers) > 0 {
		cl.t.Logf("after the test, wake down of node %s removed %d leftovers (err %v): %s", cl.cfg.NodeName, n, err, strings.Join(leftovers, "; "))
	}
}

// join starts a second agent, on the first one's containerd, with its own node
// name, state, containerd namespace, bridge and pod CIDR.
func (cl *cluster) join(node, cidr, bridge string) *cluster {
	state, err := os.MkdirTemp("", "wkag")
	if err != nil {
		cl.t.Fatal(err)
	}
	other := &cluster{t: cl.t, srv: cl.srv, c: cl.c, socket: cl.socket, cfg: cl.cfg}
	other.cfg.NodeName, other.cfg.PodCIDR, other.cfg.Bridge = node, cidr, bridge
	other.cfg.StateDir, other.cfg.Namespace = filepath.Join(state, "agent"), "wake-"+node
	cl.t.Cleanup(func() {
		other.stopAgent()
		other.removeAll(context.Background())
		other.sweep(other.socket)
		teardown.RemoveNamespaceState(other.cfg.Namespace)
		os.RemoveAll(state)
	})
	other.startAgent()
	return other
}

func (cl *cluster) startAgent() {
	// The agent signs in as a node, with the credential an operator copies.
	nodeCreds, err := credentials.Options(cl.srv.NodeCredentials())
	if err != nil {
		cl.t.Fatal(err)
	}
	nc, err := nats.Connect(cl.srv.ClientURL(), nodeCreds...)
	if err != nil {
		cl.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := cl.cfg
	cfg.Metrics = reg
	if cl.metrics, err = agent.ServeMetrics("127.0.0.1:0", reg); err != nil {
		cl.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := agent.Start(ctx, nc, cfg)
	if err != nil {
		cancel()
		cl.t.Fatal(err)
	}
	cl.stop, cl.done = cancel, make(chan error, 1)
	go func() {
		cl.done <- a.Run(ctx)
		nc.Close()
	}()
}

func (cl *cluster) stopAgent() {
	cl.metrics.Close()
	cl.metrics = nil
	if cl.stop != nil {
		cl.stop()
		<-cl.done
		cl.stop = nil
	}
}

// removeAll removes every pod the agent left running, its network and images.
func (cl *cluster) removeAll(ctx context.Context) {
	network, err := cni.New(cni.Config{BridgeName: cl.cfg.Bridge, Subnet: cl.cfg.PodCIDR, IPMasq: true,
		CacheDir: filepath.Join(cl.cfg.StateDir, "cni", "cache"), DataDir: filepath.Join(cl.cfg.StateDir, "cni", "ipam")})
	if err != nil {
		cl.t.Error(err)
		return
	}
	rt, err := crt.New(ctx, crt.Config{Socket: cl.socket, Namespace: cl.cfg.Namespace, StateDir: filepath.Join(cl.cfg.StateDir, "runtime"), Network: network})
	if err != nil {
		cl.t.Error(err)
		return
	}
	defer rt.Close()
	// Containers first, from containerd itself: a pod the agent was stopping when
	// it stopped may have lost its sandbox record but not its container.
	ctrs, _ := rt.ListContainers(ctx)
	for _, c := range ctrs {
		if c.State == runtime.ContainerRunning {
			_ = rt.StopContainer(ctx, c.ID, 0)
		}
		if err := rt.RemoveContainer(ctx, c.ID); err != nil {
			cl.t.Errorf("remove container %s: %v", c.ID, err)
		}
	}
	sbs, _ := rt.ListSandboxes(ctx)
	for _, sb := range sbs {
		if err := rt.RemoveSandbox(ctx, sb.ID); err != nil {
			cl.t.Errorf("remove sandbox %s: %v", sb.ID, err)
		}
	}
	_ = network.Destroy(ctx)
}

// imageRef finds the images a manifest names.
var imageRef = regexp.MustCompile(`image:\s*"?([^"\s,}]+)`)

// apply writes manifest's objects. Every image it names must carry a version
// tag: an untagged or :latest image is pulled Always, from a registry the tests
// must never try to reach.
func (cl *cluster) apply(manifest string) {
	cl.t.Helper()
	for _, m := range imageRef.FindAllStringSubmatch(manifest, -1) {
		ref := m[1]
		_, tag, tagged := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
		if !strings.Contains(ref, "@") && (!tagged || tag == "latest") {
			cl.t.Fatalf("test manifest names image %q without a version tag: it would be pulled from a public registry", ref)
		}
	}
	docs, err := object.Decode("test.yaml", []byte(manifest))
	if err != nil {
		cl.t.Fatal(err)
	}
	if err := client.SetNamespace(docs, "", false); err != nil {
		cl.t.Fatal(err)
	}
	for i := range docs {
		if _, err := cl.c.Write(context.Background(), &docs[i], client.ModeApply); err != nil {
			cl.t.Fatal(err)
		}
	}
}

func (cl *cluster) pods(selector string) []*corev1.Pod {
	k, _ := object.ByKind("Pod")
	objs, _, err := cl.c.Query.List(context.Background(), k, "default", selector)
	if err != nil {
		cl.t.Fatal(err)
	}
	var out []*corev1.Pod
	for _, o := range objs {
		out = append(out, o.(*corev1.Pod))
	}
	return out
}

func (cl *cluster) pod(name string) *corev1.Pod {
	k, _ := object.ByKind("Pod")
	st, err := cl.c.Query.Get(context.Background(), k, "default", name)
	if err != nil {
		return nil
	}
	return st.Object.(*corev1.Pod)
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func running(p *corev1.Pod) bool {
	if p == nil || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready {
			return false
		}
	}
	return len(p.Status.ContainerStatuses) > 0
}

func importDemo(t testing.TB, cl *cluster) {
	t.Helper()
	imgs, err := images.Demo(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := image.WriteArchive(&buf, imgs); err != nil {
		t.Fatal(err)
	}
	msg, err := cl.c.NC.Request(api.ImageImportSubject(cl.cfg.NodeName), buf.Bytes(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg.Data), "wake.local/hostname-web:1") {
		t.Fatalf("import answered %s", msg.Data)
	}
}

var webDeployment = deployment("web", "", 3, 5)

func TestDeploymentRunsRealPods(t *testing.T) {
	cl := startCluster(t)
	importDemo(t, cl)
	cl.apply(webDeployment)

	// Three pods Running with distinct IPs; each answers its own name.
	eventually(t, "3 pods running", 60*time.Second, func() bool {
		n := 0
		for _, p := range cl.pods("app=web") {
			if running(p) {
				n++
			}
		}
		return n == 3
	})
	ips := map[string]bool{}
	for _, p := range cl.pods("app=web") {
		if ips[p.Status.PodIP] || p.Status.PodIP == "" {
			t.Fatalf("pod %s has IP %q, not distinct", p.Name, p.Status.PodIP)
		}
		ips[p.Status.PodIP] = true
		if got := httpGet(t, "http://"+p.Status.PodIP+":8080/"); got != p.Name {
			t.Errorf("pod %s at %s answered %q", p.Name, p.Status.PodIP, got)
		}
	}

	// Kill a container's process: it is restarted and RESTARTS increments.
	victim := cl.pods("app=web")[0]
	pid := containerPID(t, victim.Status.PodIP)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "restart counted", 30*time.Second, func() bool {
		p := cl.pod(victim.Name)
		return p != nil && running(p) && p.Status.ContainerStatuses[0].RestartCount == 1
	})
	if got := httpGet(t, "http://"+cl.pod(victim.Name).Status.PodIP+":8080/"); got != victim.Name {
		t.Errorf("restarted pod answered %q", got)
	}

	// The agent's /metrics shows what it did.
	eventually(t, "agent metrics", 10*time.Second, func() bool {
		m := cl.scrape()
		return m["wake_agent_pods{phase=\"Running\"}"] == 3 && m["wake_agent_container_restarts_total"] == 1 &&
			m["wake_agent_cni_setup_seconds_count"] >= 3 && m["wake_agent_heartbeat_failures_total"] == 0 &&
			m["wake_projection_folded_events_total{projection=\"agent\"}"] >= 3 &&
			m["wake_projection_lag_sequences{projection=\"agent\"}"] == 0 &&
			m["wake_events_appended_total{actor=\"system:node:"+cl.cfg.NodeName+"\",type=\"pod.status\"}"] >= 3
	})

	// Delete a pod: a replacement appears.
	k, _ := object.ByKind("Pod")
	if err := cl.c.Delete(context.Background(), k, "default", victim.Name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replacement running", 60*time.Second, func() bool {
		ps := cl.pods("app=web")
		n := 0
		for _, p := range ps {
			if running(p) && p.Name != victim.Name {
				n++
			}
		}
		return n == 3 && cl.pod(victim.Name) == nil
	})

	// Scale to 5 and back to 2.
	dk, _ := object.ByKind("Deployment")
	for _, n := range []int32{5, 2} {
		if err := cl.c.Scale(context.Background(), dk, "default", "web", n); err != nil {
			t.Fatal(err)
		}
		eventually(t, fmt.Sprintf("%d pods", n), 60*time.Second, func() bool {
			ps := cl.pods("app=web")
			run := 0
			for _, p := range ps {
				if running(p) {
					run++
				}
			}
			return len(ps) == int(n) && run == int(n)
		})
	}

	// Restart the agent: the same containers keep running (same PIDs).
	before := map[string]int{}
	for _, p := range cl.pods("app=web") {
		before[p.Name] = containerPID(t, p.Status.PodIP)
	}
	cl.stopAgent()
	cl.startAgent()
	time.Sleep(2 * time.Second)
	for _, p := range cl.pods("app=web") {
		if !running(p) {
			t.Errorf("pod %s not running after the agent restarted", p.Name)
		}
		if got := containerPID(t, p.Status.PodIP); got != before[p.Name] {
			t.Errorf("pod %s: pid %d after the agent restarted, was %d", p.Name, got, before[p.Name])
		}
		if p.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("pod %s restarted by the agent restart", p.Name)
		}
	}
}

func TestPodsThatCannotRun(t *testing.T) {
	cl := startCluster(t)
	importDemo(t, cl)
	cl.apply(`apiVersion: v1
kind: Pod
metadata: {name: badimage}
spec:
  containers: [{name: c, image: "127.0.0.1:1/nope:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  containers: [{name: c, image: busybox:1.35, command: [sleep, "3600"], resources: {requests: {cpu: "512"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers: [{name: c, image: busybox:1.35, imagePullPolicy: IfNotPresent, command: [sh, -c, "exit 3"]}]
`)
	eventually(t, "bad image in back-off with the registry's error", 30*time.Second, func() bool {
		p := cl.pod("badimage")
		if p == nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return (w.Reason == "ImagePullBackOff" || w.Reason == "ErrImagePull") && strings.Contains(w.Message, "127.0.0.1:1")
	})
	eventually(t, "huge pod pending with the reason", 10*time.Second, func() bool {
		p := cl.pod("huge")
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return c.Message == "0/1 nodes are available: 1 Insufficient cpu."
			}
		}
		return false
	})
	eventually(t, "crash loop with exit codes", 30*time.Second, func() bool {
		p := cl.pod("crasher")
		if p == nil || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		last := cs.LastTerminationState.Terminated
		return cs.RestartCount >= 2 && last != nil && last.ExitCode == 3 && last.Reason == "Error" &&
			cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
	})
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	for i := 0; ; i++ {
		resp, err := c.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return strings.TrimSpace(string(body))
		}
		if i > 20 {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// containerPID finds the hostname-web process serving ip: the one whose network
// namespace holds that address.
func containerPID(t *testing.T, ip string) int {
	t.Helper()
	out, err := exec.Command("pgrep", "-x", "hostname-web").Output()
	if err != nil {
		t.Fatalf("pgrep: %v", err)
	}
	for _, f := range strings.Fields(string(out)) {
		var pid int
		fmt.Sscan(f, &pid)
		addrs, err := exec.Command("nsenter", "-t", f, "-n", "ip", "-4", "-o", "addr").Output()
		if err == nil && strings.Contains(string(addrs), " "+ip+"/") {
			return pid
		}
	}
	t.Fatalf("no hostname-web process has %s", ip)
	return 0
}

// Two nodes; one stops (as after kill -9: no goodbye, heartbeats just end). Its
// node goes NotReady after the grace period and its pods are replaced on the other.
func TestLostNodesPodsAreReplaced(t *testing.T) {
	const grace = 3 * time.Second
	cl := startClusterWith(t, grace, "node-a", "10.66.1.0/24", "wke2ea")
	second := cl.join("node-b", "10.66.2.0/24", "wke2eb")
	importDemo(t, cl)
	importDemo(t, second)
	cl.apply(strings.Replace(webDeployment, "replicas: 3", "replicas: 4", 1))
	eventually(t, "4 pods running on both nodes", 60*time.Second, func() bool {
		on := map[string]int{}
		for _, p := range cl.pods("app=web") {
			if running(p) {
				on[p.Spec.NodeName]++
			}
		}
		return on["node-a"]+on["node-b"] == 4 && on["node-a"] > 0 && on["node-b"] > 0
	})
	second.stopAgent()
	lost := time.Now()
	eventually(t, "all 4 running on node-a", grace+20*time.Second, func() bool {
		n := 0
		for _, p := range cl.pods("app=web") {
			if running(p) && p.Spec.NodeName == "node-a" {
				n++
			}
		}
		return n == 4
	})
	t.Logf("pods replaced %s after node-b stopped (grace %s)", time.Since(lost).Round(100*time.Millisecond), grace)
	k, _ := object.ByKind("Node")
	st, err := cl.c.Query.Get(context.Background(), k, "", "node-b")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range st.Object.(*corev1.Node).Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionUnknown {
			t.Errorf("node-b Ready = %s, want Unknown", c.Status)
		}
	}
}

// scrape reads the agent's /metrics into a map from series (name{labels} as
// exposed) to value.
func (cl *cluster) scrape() map[string]float64 {
	cl.t.Helper()
	resp, err := http.Get(cl.metrics.URL())
	if err != nil {
		cl.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		series, value, ok := strings.Cut(line, " ")
		if ok && !strings.HasPrefix(line, "#") {
			var v float64
			fmt.Sscan(value, &v)
			out[series] = v
		}
	}
	if !strings.Contains(string(body), "wake_agent_pods") {
		cl.t.Logf("agent /metrics:\n%s", body)
	}
	return out
}

// killShims ends the containerd shims still serving the test's containerd after
// it stopped: they were started by this test and would otherwise wait forever.
// A shim left behind means a pod's last task was not deleted; it is logged (a
// known issue being chased), not failed on.
func killShims(t testing.TB, socket string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(cmd), "containerd-shim") || !strings.Contains(string(cmd), socket) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		t.Logf("a containerd shim outlived the test's containerd: pid %d %s", pid, strings.ReplaceAll(string(cmd), "\x00", " "))
		if proc, err := os.FindProcess(pid); err == nil {
			_ = proc.Kill()
		}
	}
}
