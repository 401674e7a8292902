package containerd_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/node/runtime"
)

// BenchmarkPodStart starts 50 pods one after another, each a sandbox and
// one busybox container, until its process runs, and reports p50/p99 of
// the whole and of each step. Interleaved with them, it starts the same
// pods through the bare containerd client and CNI (random netns, no UTS
// namespace, no hosts files, no seccomp, no labels, NullIO): the floor the
// runtime adds to (DEPENDENCIES.md measured ≈104 ms p50 for it).
func BenchmarkPodStart(b *testing.B) {
	r := rt(b)
	ctx := context.Background()
	const pods = 50
	var whole, sandbox, create, startStep, raw, rawNet, rawTask []time.Duration
	for i := 0; i < b.N; i++ {
		var sandboxes []string
		var rawPods []func()
		for p := range pods {
			t0 := time.Now()
			sb, err := r.CreateSandbox(ctx, runtime.SandboxConfig{PodUID: newUID(), Name: fmt.Sprintf("bench-%d", p), Namespace: "bench"})
			must(b, err)
			t1 := time.Now()
			id, err := r.CreateContainer(ctx, sb, busybox("c", "exec sleep 3600"))
			must(b, err)
			t2 := time.Now()
			_, err = r.StartContainer(ctx, id)
			must(b, err)
			t3 := time.Now()
			sandboxes = append(sandboxes, sb.ID)
			whole, sandbox, create, startStep = append(whole, t3.Sub(t0)), append(sandbox, t1.Sub(t0)), append(create, t2.Sub(t1)), append(startStep, t3.Sub(t2))

			d, network, task, cleanup := rawPod(b, fmt.Sprintf("raw-%d-%d", i, p))
			raw, rawNet, rawTask = append(raw, d), append(rawNet, network), append(rawTask, task)
			rawPods = append(rawPods, cleanup)
		}
		b.StopTimer()
		for _, id := range sandboxes {
			must(b, r.RemoveSandbox(ctx, id))
		}
		for _, cleanup := range rawPods {
			cleanup()
		}
		b.StartTimer()
	}
	report := func(name string, ds []time.Duration) {
		slices.Sort(ds)
		b.ReportMetric(ms(ds[len(ds)/2]), name+"-p50-ms")
		b.ReportMetric(ms(ds[min(len(ds)-1, len(ds)*99/100)]), name+"-p99-ms")
	}
	report("pod", whole)
	report("sandbox", sandbox)
	report("create", create)
	report("start", startStep)
	report("raw-pod", raw)
	report("raw-cni", rawNet)
	report("raw-task", rawTask)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rawPod starts a pod the shortest way: netns, CNI ADD, NewContainer,
// NewTask, Start. It returns the whole time, the netns+CNI part, the
// NewTask+Start part, and a cleanup.
func rawPod(b *testing.B, id string) (whole, network, task time.Duration, cleanup func()) {
	ctx := namespaces.WithNamespace(context.Background(), env.config.Namespace)
	c := env.rt.Client()
	img, err := c.GetImage(ctx, images.BusyboxRef)
	must(b, err)
	t0 := time.Now()
	ns, err := netns.NewNetNS(filepath.Join(env.dir, "raw-netns"))
	must(b, err)
	_, err = env.network.Setup(ctx, id, ns.GetPath(), id, "bench", nil)
	must(b, err)
	t1 := time.Now()
	ctr, err := c.NewContainer(ctx, id,
		client.WithImage(img), client.WithSnapshotter("overlayfs"), client.WithNewSnapshot(id, img),
		client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sleep", "3600"),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: ns.GetPath()}),
			oci.WithAnnotations(map[string]string{"io.containerd.runc.v2.group": id})))
	must(b, err)
	t2 := time.Now()
	tk, err := ctr.NewTask(ctx, cio.NullIO)
	must(b, err)
	must(b, tk.Start(ctx))
	t3 := time.Now()
	return t3.Sub(t0), t1.Sub(t0), t3.Sub(t2), func() {
		tk.Delete(ctx, client.WithProcessKill)
		must(b, ctr.Delete(ctx, client.WithSnapshotCleanup))
		must(b, env.network.Teardown(ctx, id, ns.GetPath(), nil))
		must(b, ns.Remove())
	}
}
