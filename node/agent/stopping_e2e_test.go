package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/cni"
	"github.com/wake-run/wake/node/runtime"
	crt "github.com/wake-run/wake/node/runtime/containerd"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// The stopping tests run on their own node, bridge and pod CIDR, so they can run
// beside the other agent tests.
func startStoppingCluster(t *testing.T) *cluster {
	cl := startClusterWith(t, 0, "node-8", "10.66.8.0/24", "wke2e8")
	importDemo(t, cl)
	return cl
}

// runtimeView is a second client of the agent's containerd namespace and runtime
// state, to look at what really runs.
func (cl *cluster) runtimeView() *crt.Runtime {
	cl.t.Helper()
	network, err := cni.New(cni.Config{BridgeName: cl.cfg.Bridge, Subnet: cl.cfg.PodCIDR, IPMasq: true,
		CacheDir: filepath.Join(cl.cfg.StateDir, "cni", "cache"), DataDir: filepath.Join(cl.cfg.StateDir, "cni", "ipam")})
	if err != nil {
		cl.t.Fatal(err)
	}
	rt, err := crt.New(context.Background(), crt.Config{Socket: cl.socket, Namespace: cl.cfg.Namespace,
		StateDir: filepath.Join(cl.cfg.StateDir, "runtime"), Network: network})
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.t.Cleanup(func() { rt.Close() })
	return rt
}

// held is what the node still holds of a pod: its containers (running or not),
// its sandbox, its network namespace and its address reservation.
func (cl *cluster) held(rt *crt.Runtime, p *corev1.Pod, netns string) []string {
	cl.t.Helper()
	ctx := context.Background()
	var out []string
	ctrs, err := rt.ListContainers(ctx)
	if err != nil {
		cl.t.Fatal(err)
	}
	for _, c := range ctrs {
		if c.PodUID == string(p.UID) {
			out = append(out, fmt.Sprintf("container %s (%s)", c.ID, c.State))
		}
	}
	sbs, err := rt.ListSandboxes(ctx)
	if err != nil {
		cl.t.Fatal(err)
	}
	for _, sb := range sbs {
		if sb.PodUID == string(p.UID) {
			out = append(out, "sandbox "+sb.ID)
		}
	}
	if netns != "" {
		if _, err := os.Stat(netns); err == nil {
			out = append(out, "network namespace "+netns)
		}
	}
	if ip := p.Status.PodIP; ip != "" {
		reserved, _ := filepath.Glob(filepath.Join(cl.cfg.StateDir, "cni", "ipam", "*", ip))
		for _, r := range reserved {
			out = append(out, "address reservation "+r)
		}
	}
	return out
}

// netnsOf is the network namespace path of the pod's sandbox ("" if none).
func netnsOf(t *testing.T, rt *crt.Runtime, uid string) string {
	t.Helper()
	sbs, err := rt.ListSandboxes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range sbs {
		if sb.PodUID == uid {
			return sb.NetNSPath
		}
	}
	return ""
}

// runningUIDs is the uids of the pods whose containers run now.
func runningUIDs(t *testing.T, rt *crt.Runtime) map[string]bool {
	t.Helper()
	ctrs, err := rt.ListContainers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range ctrs {
		if c.State == runtime.ContainerRunning {
			out[c.PodUID] = true
		}
	}
	return out
}

func (cl *cluster) podsIn(ns, selector string) []*corev1.Pod {
	k, _ := object.ByKind("Pod")
	objs, _, err := cl.c.Query.List(context.Background(), k, ns, selector)
	if err != nil {
		cl.t.Fatal(err)
	}
	var out []*corev1.Pod
	for _, o := range objs {
		out = append(out, o.(*corev1.Pod))
	}
	return out
}

func (cl *cluster) podIn(ns, name string) *corev1.Pod {
	k, _ := object.ByKind("Pod")
	st, err := cl.c.Query.Get(context.Background(), k, ns, name)
	if err != nil {
		return nil
	}
	return st.Object.(*corev1.Pod)
}

const shopNamespace = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: till, namespace: shop, labels: {app: shop}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: web
    image: wake.local/hostname-web:1
    ports: [{containerPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: front, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: wake.local/hostname-web:1
        ports: [{containerPort: 8080}]
`

// Deleting a namespace stops its pods on their node (containers gone from
// containerd, sandbox and network released), and the namespace created again
// with the same names runs its pods again, in their own sandboxes.
func TestDeletedNamespaceStopsItsPods(t *testing.T) {
	cl := startStoppingCluster(t)
	rt := cl.runtimeView()
	nsKind, _ := object.ByKind("Namespace")
	var tillUID string
	for round := 1; round <= 2; round++ {
		cl.create(shopNamespace)
		eventually(t, fmt.Sprintf("round %d: 3 pods of namespace shop Running", round), 60*time.Second, func() bool {
			ps := cl.podsIn("shop", "app=shop")
			n := 0
			for _, p := range ps {
				if running(p) {
					n++
				}
			}
			return len(ps) == 3 && n == 3
		})
		till := cl.podIn("shop", "till")
		if string(till.UID) == tillUID {
			t.Fatalf("round %d: pod till kept the uid %s of the deleted one", round, tillUID)
		}
		tillUID = string(till.UID)
		if got := httpGet(t, "http://"+till.Status.PodIP+":8080/"); got != "till" {
			t.Errorf("round %d: pod till at %s answered %q", round, till.Status.PodIP, got)
		}
		pods := cl.podsIn("shop", "app=shop")
		netns := map[string]string{}
		for _, p := range pods {
			if netns[string(p.UID)] = netnsOf(t, rt, string(p.UID)); netns[string(p.UID)] == "" {
				t.Fatalf("round %d: pod %s (uid %s) has no sandbox on the node", round, p.Name, p.UID)
			}
		}
		// Only the pods of this round run on the node: none of an earlier
		// round's pods, and none of this round's in an earlier sandbox.
		live := runningUIDs(t, rt)
		for uid := range live {
			if netns[uid] == "" {
				t.Errorf("round %d: the node runs containers of pod uid %s, which is not a pod of namespace shop now", round, uid)
			}
		}

		if err := cl.c.Delete(context.Background(), nsKind, "", "shop"); err != nil {
			t.Fatal(err)
		}
		eventually(t, fmt.Sprintf("round %d: namespace shop deleted", round), 60*time.Second, func() bool {
			_, err := cl.c.Query.Get(context.Background(), nsKind, "", "shop")
			return errors.Is(err, query.ErrNotFound)
		})
		// The namespace is gone only once its pods are: the node released them.
		for _, p := range pods {
			if left := cl.held(rt, p, netns[string(p.UID)]); len(left) > 0 {
				t.Errorf("round %d: namespace shop is deleted but the node still holds pod %s: %s", round, p.Name, strings.Join(left, ", "))
			}
		}
	}
}

// forceDelete deletes a pod outright, with no graceful stop on its node first,
// as the node-lifecycle controller does once a lost node's pods' grace ends.
func (cl *cluster) forceDelete(name string) {
	cl.t.Helper()
	k, _ := object.ByKind("Pod")
	st, err := cl.c.Query.Get(context.Background(), k, "default", name)
	if err != nil {
		cl.t.Fatal(err)
	}
	raw, _ := json.Marshal(object.Deletion{UID: string(st.Object.GetUID())})
	ev := &events.Event{ID: string(uuid.NewUUID()), Type: "pod." + object.Deleted, Time: time.Now().UTC(),
		Object: events.Ref{Kind: "Pod", Namespace: "default", Name: name}, Actor: "test:force-delete",
		Schema: events.SchemaVersion, Payload: raw, Reason: "deleted outright"}
	if _, err := cl.srv.Log().Append(context.Background(), ev, st.Version); err != nil {
		cl.t.Fatal(err)
	}
}

const swapPod = `apiVersion: v1
kind: Pod
metadata: {name: swap}
spec:
  nodeName: node-8
  terminationGracePeriodSeconds: 6
  containers:
  - name: c
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
`

// A pod deleted outright and created again at once under the same name: the
// node stops the first (which ignores SIGTERM as PID 1, so it takes its whole
// grace period) and then runs the second in its own sandbox, never in the
// first's and never losing it. The second arrives once while the first is being
// stopped, and once as fast as it can (possibly before the node has seen the
// first deleted).
func TestPodReplacedOnItsNodeUnderTheSameName(t *testing.T) {
	cl := startStoppingCluster(t)
	rt := cl.runtimeView()
	for round, pause := range []time.Duration{time.Second, 0} {
		cl.create(swapPod)
		eventually(t, fmt.Sprintf("round %d: pod swap Running", round), 60*time.Second, func() bool { return running(cl.pod("swap")) })
		first := cl.pod("swap")
		netns := netnsOf(t, rt, string(first.UID))
		cl.forceDelete("swap")
		time.Sleep(pause)
		cl.create(swapPod)
		eventually(t, fmt.Sprintf("round %d: the second pod swap Running", round), 60*time.Second, func() bool {
			p := cl.pod("swap")
			return running(p) && p.UID != first.UID
		})
		second := cl.pod("swap")
		if left := cl.held(rt, first, netns); len(left) > 0 {
			t.Errorf("round %d: the first pod swap is still held by the node: %s", round, strings.Join(left, ", "))
		}
		if live := runningUIDs(t, rt); !live[string(second.UID)] || len(live) != 1 {
			t.Errorf("round %d: running pod uids %v, want only the second pod's %s", round, live, second.UID)
		}
		cl.remove("Pod", "swap")
		eventually(t, fmt.Sprintf("round %d: pod swap deleted", round), 30*time.Second, func() bool { return cl.gone("Pod", "swap") })
	}
}

// A pod of a name the node runs, with a new uid, reaching the node while the
// first pod's worker runs it (here written into the inbox directly, as a
// dispatcher would if the first pod's revocation were lost): the node stops the
// first pod and runs the new one in a sandbox of its own, never in the first's.
func TestNewPodOfTheNameReplacesTheOneRunning(t *testing.T) {
	cl := startStoppingCluster(t)
	rt := cl.runtimeView()
	cl.create(swapPod)
	eventually(t, "pod swap Running", 60*time.Second, func() bool { return running(cl.pod("swap")) })
	first := cl.pod("swap")
	netns := netnsOf(t, rt, string(first.UID))

	k, _ := object.ByKind("Pod")
	st, err := cl.c.Query.Get(context.Background(), k, "default", "swap")
	if err != nil {
		t.Fatal(err)
	}
	next := st.Object.(*corev1.Pod).DeepCopy()
	next.UID = uuid.NewUUID()
	next.Status = corev1.PodStatus{}
	raw, _ := json.Marshal(next)
	payload, _ := json.Marshal(object.Assignment{Pod: raw, Version: st.Version})
	ref := events.Ref{Kind: "Pod", Namespace: "default", Name: "swap", Node: "node-8"}
	ev := &events.Event{ID: string(uuid.NewUUID()), Type: "pod." + object.Assigned, Time: time.Now().UTC(), Object: ref,
		Actor: "test:dispatcher", Schema: events.SchemaVersion, Payload: payload, Reason: "a new pod of the name"}
	slot, err := cl.srv.Log().SubjectVersion(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.srv.Log().Append(context.Background(), ev, slot); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new pod's container running, and only it", 30*time.Second, func() bool {
		live := runningUIDs(t, rt)
		return live[string(next.UID)] && len(live) == 1
	})
	if left := cl.held(rt, first, netns); len(left) > 0 {
		t.Errorf("the first pod is still held by the node: %s", strings.Join(left, ", "))
	}
	if got := netnsOf(t, rt, string(next.UID)); got == "" || got == netns {
		t.Errorf("the new pod's network namespace is %q, want one of its own (the first's was %s)", got, netns)
	}
	// Revoked (as the dispatcher would once the pod it wrote is deleted), the new
	// pod is stopped too; the first, which the log still holds, is deleted.
	grace := int64(1)
	payload, _ = json.Marshal(object.Deletion{UID: string(next.UID), GracePeriodSeconds: &grace})
	ev = &events.Event{ID: string(uuid.NewUUID()), Type: "pod." + object.Revoked, Time: time.Now().UTC(), Object: ref,
		Actor: "test:dispatcher", Schema: events.SchemaVersion, Payload: payload, Reason: "the new pod was deleted"}
	if slot, err = cl.srv.Log().SubjectVersion(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.srv.Log().Append(context.Background(), ev, slot); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nothing of pod swap runs", 30*time.Second, func() bool { return len(runningUIDs(t, rt)) == 0 })
	cl.remove("Pod", "swap")
	eventually(t, "pod swap deleted", 30*time.Second, func() bool { return cl.gone("Pod", "swap") })
}
