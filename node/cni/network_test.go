package cni_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/wake-run/wake/node/host"
	"github.com/wake-run/wake/node/host/hosttest"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/netns"
	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/wake-run/wake/node/cni"
)

// testSubnet is a range no route of this machine uses; the test checks.
const testSubnet = "10.213.1.0/24"

// TestSetupTeardown attaches two namespaces, serves HTTP in one, reaches it
// from the host through the bridge and through a host port, and checks that
// Teardown releases the address and the port mapping, twice and after the
// namespace is gone.
func TestSetupTeardown(t *testing.T) {
	n, dir := newNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	nsA := newNetNS(t, dir)
	nsB := newNetNS(t, dir)
	hostPort := freePort(t)
	ports := []cni.PortMapping{{HostPort: int32(hostPort), ContainerPort: 8080, Protocol: "TCP"}}

	start := time.Now()
	ipA, err := n.Setup(ctx, "sandbox-a", nsA.GetPath(), "pod-a", "default", ports)
	if err != nil {
		t.Fatal(err)
	}
	addWithPort := time.Since(start)
	start = time.Now()
	ipB, err := n.Setup(ctx, "sandbox-b", nsB.GetPath(), "pod-b", "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ADD with a host port %v, without %v", addWithPort.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	_, subnet, _ := net.ParseCIDR(testSubnet)
	if !subnet.Contains(net.ParseIP(ipA)) || !subnet.Contains(net.ParseIP(ipB)) || ipA == ipB || ipA == n.Gateway() {
		t.Fatalf("addresses %s and %s, want two distinct pod addresses in %s (gateway %s)", ipA, ipB, testSubnet, n.Gateway())
	}
	if _, err := os.Stat(filepath.Join(dir, "ipam", "wake-"+n.BridgeName(), ipA)); err != nil {
		t.Errorf("host-local has no reservation for %s: %v", ipA, err)
	}

	serveIn(t, nsA, "pod-a")
	if got := get(ctx, t, fmt.Sprintf("http://%s:8080/", ipA)); got != "pod-a" {
		t.Errorf("GET pod IP = %q, want pod-a", got)
	}
	if got := get(ctx, t, fmt.Sprintf("http://%s:%d/", n.Gateway(), hostPort)); got != "pod-a" {
		t.Errorf("GET host port on the bridge address = %q, want pod-a", got)
	}
	if !strings.Contains(iptablesNAT(t), "CNI-DN-") {
		t.Error("no portmap chain after Setup with a host port")
	}

	// Nil ports: the mapping comes from libcni's cache.
	if err := n.Teardown(ctx, "sandbox-a", nsA.GetPath(), nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Teardown(ctx, "sandbox-a", nsA.GetPath(), nil); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ipam", "wake-"+n.BridgeName(), ipA)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reservation for %s after Teardown: %v", ipA, err)
	}
	if nat := iptablesNAT(t); strings.Contains(nat, "CNI-DN-") {
		t.Errorf("portmap chain left after Teardown:\n%s", nat)
	}

	// The namespace is gone before the network is torn down.
	if err := nsB.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := n.Teardown(ctx, "sandbox-b", nsB.GetPath(), nil); err != nil {
		t.Errorf("Teardown after the namespace is gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ipam", "wake-"+n.BridgeName(), ipB)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reservation for %s after Teardown: %v", ipB, err)
	}
	if err := n.Teardown(ctx, "never-set-up", "", nil); err != nil {
		t.Errorf("Teardown of an unknown sandbox: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []cni.Config{
		{Subnet: "10.0.0.0", CacheDir: "c", DataDir: "d"},
		{Subnet: "fd00::/64", CacheDir: "c", DataDir: "d"},
		{Subnet: "10.0.0.0/24"},
		{Subnet: "10.0.0.0/24", CacheDir: "c", DataDir: "d", BridgeName: "a-bridge-name-too-long"},
	} {
		if _, err := cni.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	_, err := cni.New(cni.Config{Subnet: "10.0.0.0/24", CacheDir: "c", DataDir: "d", PluginDirs: []string{t.TempDir()}})
	if !errors.Is(err, cni.ErrPluginsMissing) {
		t.Errorf("New without plugins = %v, want ErrPluginsMissing", err)
	}
}

// newNetwork returns a network on a bridge of the test's own, and removes
// the bridge, the state and any portmap chain the test added when it ends.
func newNetwork(t *testing.T) (*cni.Network, string) {
	t.Helper()
	hosttest.RequireRoot(t, "CNI")
	hosttest.Require(t, host.CNI, host.IPTables, host.IPRoute2)
	dir := t.TempDir()
	cfg := cni.Config{
		BridgeName: fmt.Sprintf("wkt-cni%d", os.Getpid()%100000),
		Subnet:     testSubnet,
		CacheDir:   filepath.Join(dir, "cache"),
		DataDir:    filepath.Join(dir, "ipam"),
	}
	n, err := cni.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "route", "show", "match", "10.213.1.1").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "10.213.1.") {
		t.Fatalf("%s is routed on this machine already:\n%s", testSubnet, out)
	}
	natBefore := iptablesNAT(t)
	t.Cleanup(func() {
		if err := n.Destroy(context.Background()); err != nil {
			t.Error(err)
		}
		removeNewHostportChains(t, natBefore)
	})
	return n, dir
}

func newNetNS(t *testing.T, dir string) *netns.NetNS {
	t.Helper()
	ns, err := netns.NewNetNS(filepath.Join(dir, "netns"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Remove() })
	return ns
}

// serveIn answers every request with body from a listener inside ns.
func serveIn(t *testing.T, ns *netns.NetNS, body string) {
	t.Helper()
	var ln net.Listener
	err := ns.Do(func(cnins.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", ":8080")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
}

func get(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func iptablesNAT(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables-save", "-t", "nat").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-save: %v: %s", err, out)
	}
	return string(out)
}

// removeNewHostportChains deletes portmap's top-level chains (and the jumps
// to them) when they did not exist before the test and are empty now.
func removeNewHostportChains(t *testing.T, before string) {
	now := iptablesNAT(t)
	for _, chain := range []string{"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"} {
		if strings.Contains(before, ":"+chain+" ") || !strings.Contains(now, ":"+chain+" ") {
			continue
		}
		for _, line := range strings.Split(now, "\n") {
			if strings.HasPrefix(line, "-A ") && strings.Contains(line, "-j "+chain) {
				// The rule comes from iptables-save, quoted for a shell.
				rule := "iptables -t nat -D " + strings.TrimPrefix(line, "-A ")
				if out, err := exec.Command("sh", "-c", rule).CombinedOutput(); err != nil {
					t.Errorf("%s: %v: %s", rule, err, out)
				}
			}
		}
	}
	for _, chain := range []string{"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"} {
		if strings.Contains(before, ":"+chain+" ") || !strings.Contains(now, ":"+chain+" ") {
			continue
		}
		exec.Command("iptables", "-t", "nat", "-F", chain).Run()
		if out, err := exec.Command("iptables", "-t", "nat", "-X", chain).CombinedOutput(); err != nil {
			t.Errorf("iptables -X %s: %v: %s", chain, err, out)
		}
	}
	if after := iptablesNAT(t); strings.Contains(after, "CNI-") && !strings.Contains(before, "CNI-") {
		t.Errorf("CNI rules left in the nat table:\n%s", after)
	}
}
