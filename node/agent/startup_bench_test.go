package agent_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"path/filepath"

	"github.com/wake-run/wake/node/cni"
	"github.com/wake-run/wake/node/runtime"
	crt "github.com/wake-run/wake/node/runtime/containerd"
)

// BenchmarkPodStartup measures apply -> Running for 50 pods, one after another,
// with real containerd, runc and CNI: the pod event, scheduling, the node inbox,
// the agent's sandbox and container, and the status report folded by the query
// service. Beside it, in the same run, the floor: the same sandbox + container
// started straight through the runtime, with no wake in between.
//
//	go test -run=NONE -bench=PodStartup -benchtime=1x ./node/agent
func BenchmarkPodStartup(b *testing.B) {
	for i := 0; i < b.N; i++ {
		cl := startClusterB(b)
		var wake, floor []time.Duration
		for j := 0; j < 50; j++ {
			name := fmt.Sprintf("p%02d", j)
			start := time.Now()
			cl.apply(fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  containers: [{name: c, image: wake.local/hostname-web:1}]\n", name))
			deadline := time.Now().Add(30 * time.Second)
			for !running(cl.pod(name)) {
				if time.Now().After(deadline) {
					b.Fatalf("pod %s not running", name)
				}
				time.Sleep(2 * time.Millisecond)
			}
			wake = append(wake, time.Since(start))
		}
		floor = rawStarts(b, cl, 50)
		b.ReportMetric(ms(pct(wake, 50)), "wake-p50-ms")
		b.ReportMetric(ms(pct(wake, 99)), "wake-p99-ms")
		b.ReportMetric(ms(pct(floor, 50)), "floor-p50-ms")
		b.ReportMetric(ms(pct(floor, 99)), "floor-p99-ms")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

// rawStarts starts n pods straight through a runtime on the same containerd, in a
// namespace of its own, and removes them.
func rawStarts(b *testing.B, cl *cluster, n int) []time.Duration {
	ctx := context.Background()
	network, err := cni.New(cni.Config{BridgeName: "wkfloor0", Subnet: "10.66.9.0/24",
		CacheDir: filepath.Join(b.TempDir(), "cache"), DataDir: filepath.Join(b.TempDir(), "ipam")})
	if err != nil {
		b.Fatal(err)
	}
	defer network.Destroy(ctx)
	rt, err := crt.New(ctx, crt.Config{Socket: cl.socket, Namespace: cl.cfg.Namespace, StateDir: filepath.Join(b.TempDir(), "rt"), Network: network})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	img, err := rt.EnsureImage(ctx, "wake.local/hostname-web:1", "IfNotPresent")
	if err != nil {
		b.Fatal(err)
	}
	var out []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		sb, err := rt.CreateSandbox(ctx, runtime.SandboxConfig{PodUID: fmt.Sprintf("floor-%d", i), Name: fmt.Sprintf("f%d", i), Namespace: "default", Hostname: "f"})
		if err != nil {
			b.Fatal(err)
		}
		id, err := rt.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "c", Image: img.Ref})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rt.WaitContainer(ctx, id); err != nil {
			b.Fatal(err)
		}
		if _, err := rt.StartContainer(ctx, id); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(start))
		defer rt.RemoveSandbox(ctx, sb.ID)
	}
	return out
}
