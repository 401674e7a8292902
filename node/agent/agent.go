// Package agent is the node agent: it registers its Node, reads only its own inbox
// (ev.node.<node>.>), runs the pods assigned to it on containerd, applies their
// restart policy, and reports their status into the same inbox.
package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/node/cni"
	"github.com/wake-run/wake/node/containerd"
	"github.com/wake-run/wake/node/runtime"
	crt "github.com/wake-run/wake/node/runtime/containerd"
	"github.com/wake-run/wake/node/teardown"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// Config of one agent. Several agents run on one machine with distinct NodeName,
// StateDir, Namespace, PodCIDR and Bridge.
type Config struct {
	NodeName  string
	Labels    map[string]string
	Taints    []corev1.Taint
	StateDir  string // agent state: projection, runtime, volumes (default /var/lib/wake/agent/<node>)
	Socket    string // containerd socket; "" starts a private containerd under StateDir
	Namespace string // containerd namespace (default "wake")
	PodCIDR   string // default 10.88.0.0/24
	Bridge    string // default wake0
	Logger    *slog.Logger
	// Metrics, when set, is where the agent registers its Prometheus metrics
	// (see metrics.go). `wake agent` serves its own registry; `wake up` passes
	// the server's, so one /metrics shows both.
	Metrics prometheus.Registerer
}

// Agent is a running node agent.
type Agent struct {
	cfg     Config
	nc      *nats.Conn
	log     *events.Log
	query   *query.Client
	rt      runtime.Runtime
	runner  *projections.Runner
	logger  *slog.Logger
	hostIP  string
	metrics *metrics // nil: not measured
	// facetVersion learns the newest version of a facet subject (the log's; tests
	// replace it).
	facetVersion func(context.Context, events.Ref) (uint64, error)

	mu      sync.Mutex
	workers map[string]*worker
	touched map[string]bool
	wakeup  chan struct{}
	adopt   map[string][]runtime.ContainerStatus // pod uid -> containers found at start
	sandbox map[string]runtime.Sandbox           // pod uid -> sandbox found at start
	// unlock releases StateDir/agent.lock, held from Start to the end of Run
	// so that `wake down` refuses to stop pods this agent would restart.
	unlock func()

	subs        []*nats.Subscription // responders, from Start until Run returns
	serveCancel context.CancelFunc   // ends the streams the responders run
}

// Run starts the runtime (and containerd if needed), registers the node, and runs
// the assigned pods until ctx ends. On return the pods keep running, to be adopted
// by the next agent on this node.
func Run(ctx context.Context, nc *nats.Conn, cfg Config) error {
	a, err := Start(ctx, nc, cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// Start prepares the agent: containerd (started if none answers), the pod network,
// the runtime, the node's responders (answering when Start returns), the node's
// registration, and an inventory of what still runs. Run must follow: the
// responders stop, and StateDir/agent.lock is released, when it returns. Start
// fails when another process holds that lock; before the first start on a
// state directory it records the host settings the pod network changes (see
// teardown.RecordHost).
func Start(ctx context.Context, nc *nats.Conn, cfg Config) (a *Agent, err error) {
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		cfg.NodeName = strings.ToLower(h)
	}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join("/var/lib/wake/agent", cfg.NodeName)
	}
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = "10.88.0.0/24"
	}
	if cfg.Bridge == "" {
		cfg.Bridge = "wake0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.StateDir, 0o711); err != nil {
		return nil, fmt.Errorf("agent state directory: %w", err)
	}
	unlock, err := teardown.Lock(filepath.Join(cfg.StateDir, teardown.AgentLock))
	if err != nil {
		return nil, fmt.Errorf("agent state directory %s: %w: stop it, or give this agent another --state-dir", cfg.StateDir, err)
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	if err := teardown.RecordHost(ctx, cfg.StateDir); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("agent metrics: %w", err)
	}
	log, err := events.NewLog(nc, "", m.logOptions()...)
	if err != nil {
		return nil, err
	}
	a = &Agent{cfg: cfg, nc: nc, unlock: unlock, log: log, query: query.NewClient(nc), logger: cfg.Logger.With("node", cfg.NodeName), metrics: m,
		workers: map[string]*worker{}, touched: map[string]bool{}, wakeup: make(chan struct{}, 1),
		adopt: map[string][]runtime.ContainerStatus{}, sandbox: map[string]runtime.Sandbox{}}
	a.facetVersion = log.SubjectVersion
	socket := cfg.Socket
	if socket == "" {
		d, err := containerd.Ensure(ctx, containerd.Config{StateDir: filepath.Join(cfg.StateDir, "containerd")})
		if err != nil {
			return nil, err
		}
		socket = d.Socket
	}
	network, err := cni.New(cni.Config{BridgeName: cfg.Bridge, Subnet: cfg.PodCIDR, IPMasq: true,
		CacheDir: filepath.Join(cfg.StateDir, "cni", "cache"), DataDir: filepath.Join(cfg.StateDir, "cni", "ipam")})
	if err != nil {
		return nil, err
	}
	a.hostIP = network.Gateway()
	a.rt, err = crt.New(ctx, crt.Config{Socket: socket, Namespace: cfg.Namespace, StateDir: filepath.Join(cfg.StateDir, "runtime"),
		Network: m.network(network), OnPull: m.pulled})
	if err != nil {
		return nil, err
	}
	a.runner, err = projections.Open(filepath.Join(cfg.StateDir, "projection"), Projection(cfg.NodeName), log,
		append(m.runnerOptions(), projections.WithLogger(a.logger), projections.WithTouched(a.onTouched))...)
	if err != nil {
		return nil, err
	}
	// The node's responders answer before the node is registered: whoever sees
	// the node can ask it for logs, exec and images at once.
	if err := a.serve(); err != nil {
		_ = a.runner.Close()
		return nil, err
	}
	if err := a.register(ctx); err != nil {
		a.stopServing()
		_ = a.runner.Close()
		return nil, err
	}
	if err := a.inventory(ctx); err != nil {
		a.stopServing()
		_ = a.runner.Close()
		return nil, err
	}
	return a, nil
}

// serve subscribes the node's responders (images, logs, exec) and returns once
// the server has taken every subscription, so a request sent after it is
// answered. They answer until Run returns.
func (a *Agent) serve() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.serveCancel = cancel
	subs, err := a.serveImages(ctx, a.nc)
	if err == nil {
		a.subs = subs
		subs, err = a.serveStreams(ctx, a.nc)
		a.subs = append(a.subs, subs...)
	}
	if err == nil {
		err = a.nc.Flush()
	}
	if err != nil {
		a.stopServing()
		return fmt.Errorf("node %s: cannot answer requests: %w", a.cfg.NodeName, err)
	}
	return nil
}

// stopServing unsubscribes the node's responders and ends the streams they run.
func (a *Agent) stopServing() {
	for _, s := range a.subs {
		_ = s.Unsubscribe()
	}
	a.subs = nil
	if a.serveCancel != nil {
		a.serveCancel()
	}
}

func (a *Agent) actor() string { return "system:node:" + a.cfg.NodeName }

// inventory records the sandboxes and containers still running from an earlier
// agent, so workers adopt them instead of starting them again.
func (a *Agent) inventory(ctx context.Context) error {
	sbs, err := a.rt.ListSandboxes(ctx)
	if err != nil {
		return err
	}
	for _, sb := range sbs {
		a.sandbox[sb.PodUID] = sb
	}
	ctrs, err := a.rt.ListContainers(ctx)
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		a.adopt[c.PodUID] = append(a.adopt[c.PodUID], c)
	}
	return nil
}

func (a *Agent) onTouched(refs []events.Ref, _ uint64) {
	a.mu.Lock()
	for _, r := range refs {
		a.touched[r.Namespace+"/"+r.Name] = true
	}
	a.mu.Unlock()
	select {
	case a.wakeup <- struct{}{}:
	default:
	}
}

// NodeName is the node this agent runs.
func (a *Agent) NodeName() string { return a.cfg.NodeName }

// Run runs the assigned pods until ctx ends, or until its projection stops for
// good (the stream of record is gone: the error wraps events.ErrStreamGone); the
// pods keep running after it.
func (a *Agent) Run(ctx context.Context) error {
	defer a.unlock() // last: the pods are left to `wake down` only once this agent is gone
	var wg sync.WaitGroup
	defer wg.Wait()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := a.runner.Run(rctx); err != nil {
			failed <- err
		}
	}()
	go func() {
		defer wg.Done()
		a.heartbeat(rctx)
	}()
	defer a.runner.Close()
	defer a.stopServing()
	a.resync()
	orphans := time.NewTimer(10 * time.Second)
	defer orphans.Stop()
	for {
		select {
		case <-ctx.Done():
			a.waitWorkers()
			return nil
		case err := <-failed:
			cancel()
			a.waitWorkers()
			return fmt.Errorf("node %s stopped: %w", a.cfg.NodeName, err)
		case <-a.wakeup:
		case <-orphans.C:
			a.removeOrphans(ctx)
			orphans.Reset(time.Minute)
		}
		a.dispatch(rctx, &wg)
	}
}

// waitWorkers waits for every pod worker to end (their context has ended).
func (a *Agent) waitWorkers() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		<-w.done
	}
}

// resync marks every pod of the projection, for the first pass.
func (a *Agent) resync() {
	var refs []events.Ref
	_ = a.runner.View(func(rd projections.Reader, _ uint64) error {
		return rd.Scan([]byte("p\x00"), false, func(k, _ []byte) bool {
			if parts := strings.SplitN(string(k[2:]), "\x00", 2); len(parts) == 2 {
				refs = append(refs, events.Ref{Namespace: parts[0], Name: parts[1]})
			}
			return true
		})
	})
	a.onTouched(refs, 0)
}

// dispatch hands each touched pod's desired state to its worker.
func (a *Agent) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	a.mu.Lock()
	touched := a.touched
	a.touched = map[string]bool{}
	a.mu.Unlock()
	for key := range touched {
		ns, name, _ := strings.Cut(key, "/")
		pod, err := a.desired(ns, name)
		if err != nil {
			a.logger.Warn("read assignment", "pod", key, "err", err)
			continue
		}
		a.mu.Lock()
		w := a.workers[key]
		a.mu.Unlock()
		if pod == nil {
			continue // released (stopped): its worker has finished
		}
		var after *worker
		if w != nil && !isDone(w) && w.uid != pod.UID {
			// Another pod of the name: the worker stops its own pod (never
			// taking the new one into its sandbox), and a new worker starts the
			// new pod once it has.
			w.retire()
			w, after = nil, w
		}
		if w == nil || isDone(w) {
			w = newWorker(a, ns, name, pod.UID)
			w.after = after
			a.adoptInto(w, pod)
			a.mu.Lock()
			a.workers[key] = w
			a.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx)
			}()
		}
		w.give(pod)
	}
}

func isDone(w *worker) bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func (a *Agent) desired(ns, name string) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := a.runner.View(func(rd projections.Reader, _ uint64) error {
		raw, ok, err := rd.Get(podKey("p", ns, name))
		if err != nil || !ok {
			return err
		}
		var asg object.Assignment
		if err := json.Unmarshal(raw, &asg); err != nil {
			return err
		}
		pod = &corev1.Pod{}
		return json.Unmarshal(asg.Pod, pod)
	})
	return pod, err
}

// adoptInto gives a new worker the sandbox and containers an earlier agent left.
func (a *Agent) adoptInto(w *worker, pod *corev1.Pod) {
	a.mu.Lock()
	sb, ok := a.sandbox[string(pod.UID)]
	ctrs := a.adopt[string(pod.UID)]
	delete(a.sandbox, string(pod.UID))
	delete(a.adopt, string(pod.UID))
	a.mu.Unlock()
	if !ok {
		return
	}
	w.sandbox, w.start = &sb, sb.CreatedAt
	w.pod = pod
	for _, c := range ctrs {
		cs := w.ctrs[c.Name]
		if cs == nil {
			cs = &ctrState{name: c.Name, image: c.Image}
			w.ctrs[c.Name] = cs
		}
		if c.Attempt < cs.attempt && cs.id != "" {
			continue
		}
		cs.attempt, cs.id, cs.restarts = c.Attempt, c.ID, int32(c.Attempt)
		switch c.State {
		case runtime.ContainerRunning:
			cs.running, cs.started = true, c.StartedAt
			if err := w.watch(context.Background(), c.Name, c.ID); err != nil {
				cs.running = false
			}
		case runtime.ContainerExited:
			if c.Exit != nil {
				w.exits <- exitNote{name: c.Name, id: c.ID, st: *c.Exit}
			}
		}
	}
}

// removeOrphans stops pods this node runs that its inbox no longer assigns to it.
func (a *Agent) removeOrphans(ctx context.Context) {
	a.mu.Lock()
	var orphans []string
	for uid := range a.sandbox {
		orphans = append(orphans, uid)
	}
	a.mu.Unlock()
	for _, uid := range orphans {
		a.logger.Info("removing a pod no longer assigned to this node", "uid", uid)
		a.removePod(ctx, uid, 0)
		a.mu.Lock()
		delete(a.sandbox, uid)
		delete(a.adopt, uid)
		a.mu.Unlock()
	}
}

// removePod stops a pod's containers within grace and removes its sandbox.
func (a *Agent) removePod(ctx context.Context, podUID string, grace time.Duration) {
	ctrs, err := a.rt.ListContainers(ctx)
	if err == nil {
		var wg sync.WaitGroup
		for _, c := range ctrs {
			if c.PodUID != podUID {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c.State == runtime.ContainerRunning {
					_ = a.rt.StopContainer(ctx, c.ID, grace)
				}
				_ = a.rt.RemoveContainer(ctx, c.ID)
			}()
		}
		wg.Wait()
	}
	if err := a.rt.RemoveSandbox(ctx, crt.SandboxID(podUID)); err != nil {
		a.logger.Warn("remove sandbox", "uid", podUID, "err", err)
	}
	_ = os.RemoveAll(filepath.Join(a.cfg.StateDir, "pods", podUID))
}

func (a *Agent) containerID(sb *runtime.Sandbox, name string, attempt uint32) string {
	return crt.ContainerID(sb.ID, name, attempt)
}

// appendFacet appends an event to a pod's facet in this node's inbox, guarded by
// the facet's newest event. On a conflict it learns the newer version from the log
// and appends again, until it is stored or ctx ends: the agent's reports are whole
// snapshots, so a newer event on the facet does not change what they say.
func (a *Agent) appendFacet(ctx context.Context, ev *events.Event) error {
	delay := 10 * time.Millisecond
	for {
		version, err := a.facetVersion(ctx, ev.Object)
		if err != nil {
			return err
		}
		ev.Time = time.Now().UTC()
		_, err = a.log.Append(ctx, ev, version)
		if !errors.Is(err, events.ErrConflict) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (retrying ended: %w)", err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// register creates or updates this node's Node and reports its status. A write
// refused by a version guard (the node-lifecycle controller marked the node at the
// same moment) is decided again from the node as the log now holds it.
func (a *Agent) register(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = a.registerOnce(ctx); !errors.Is(err, events.ErrConflict) {
			return err
		}
	}
	return err
}

func (a *Agent) registerOnce(ctx context.Context) error {
	k, _ := object.ByKind("Node")
	ref := events.Ref{Kind: "Node", Name: a.cfg.NodeName}
	labels := map[string]string{"kubernetes.io/hostname": a.cfg.NodeName, "kubernetes.io/os": goruntime.GOOS, "kubernetes.io/arch": goruntime.GOARCH}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: labels},
		Spec: corev1.NodeSpec{Taints: a.cfg.Taints, PodCIDR: a.cfg.PodCIDR, PodCIDRs: []string{a.cfg.PodCIDR}}}
	node.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Node"))
	cur, err := a.query.Get(ctx, k, "", a.cfg.NodeName)
	var nf *query.NotFoundError
	var version uint64
	verb := object.Updated
	switch {
	case errors.As(err, &nf):
		node.UID = uuid.NewUUID()
		version, verb = nf.Version, object.Created
	case err != nil:
		return fmt.Errorf("register node %s: %w", a.cfg.NodeName, err)
	default:
		node.UID = cur.Object.GetUID()
		version = cur.Version
	}
	if verb == object.Created || !sameNodeSpec(cur.Object.(*corev1.Node), node) {
		raw, _ := json.Marshal(node)
		ev, _ := events.New(object.EventType(k, verb), ref, a.actor(), &object.Change{Object: raw})
		ev.Reason = "node agent started"
		if version, err = a.log.Append(ctx, ev, version); err != nil {
			return fmt.Errorf("register node %s: %w", a.cfg.NodeName, err)
		}
	}
	st, _ := json.Marshal(a.nodeStatus())
	ev, _ := events.New(object.EventType(k, object.Status), ref, a.actor(), &object.StatusChange{Status: st})
	ev.Reason = "Ready"
	if _, err := a.log.Append(ctx, ev, version); err != nil {
		return fmt.Errorf("report node %s status: %w", a.cfg.NodeName, err)
	}
	return nil
}

func sameNodeSpec(old, node *corev1.Node) bool {
	o, _ := json.Marshal(struct {
		L map[string]string
		S corev1.NodeSpec
	}{old.Labels, old.Spec})
	n, _ := json.Marshal(struct {
		L map[string]string
		S corev1.NodeSpec
	}{node.Labels, node.Spec})
	return string(o) == string(n)
}

func (a *Agent) nodeStatus() corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
	}
	now := metav1.Now()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "AgentReady",
			Message: "wake agent is running", LastHeartbeatTime: now, LastTransitionTime: now}},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.hostIP}, {Type: corev1.NodeHostName, Address: a.cfg.NodeName}},
		NodeInfo: corev1.NodeSystemInfo{KernelVersion: strings.TrimSpace(string(kernel)), OSImage: osImage(),
			ContainerRuntimeVersion: "containerd", KubeletVersion: "wake", OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH},
	}
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
			return kb * 1024
		}
	}
	return 0
}

func osImage() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "linux"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "linux"
}

// heartbeat refreshes this node's key in the heartbeat bucket.
func (a *Agent) heartbeat(ctx context.Context) {
	tick := time.NewTicker(api.HeartbeatInterval)
	defer tick.Stop()
	// The control plane creates the bucket; a node may write its key but not
	// create or reconfigure a bucket.
	var kv jetstream.KeyValue
	for {
		var err error
		if kv, err = a.log.JetStream().KeyValue(ctx, api.HeartbeatBucket); err == nil {
			break
		}
		if ctx.Err() == nil {
			a.logger.Debug("heartbeat bucket not there yet", "bucket", api.HeartbeatBucket, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	for {
		if _, err := kv.Put(ctx, a.cfg.NodeName, []byte(strconv.FormatInt(time.Now().UnixMilli(), 10))); err != nil && ctx.Err() == nil {
			a.metrics.heartbeatFailed()
			a.logger.Warn("heartbeat", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }
