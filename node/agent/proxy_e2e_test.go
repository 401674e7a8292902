package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/host"
	"github.com/wake-run/wake/node/host/hosttest"
	"github.com/wake-run/wake/node/proxy"
	"github.com/wake-run/wake/node/teardown"
	corev1 "k8s.io/api/core/v1"
)

// These tests write each Service without a selector and its EndpointSlice by
// hand (valid Kubernetes usage), so they need no endpoints controller; the
// Services ask for their ClusterIP and node port.

// serviceYAML is a selector-less Service web-like: name, clusterIP, port 80
// to 8080, with extra spec lines.
func serviceYAML(name, ip string, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  clusterIP: %s
  ports: [{name: http, port: 80, targetPort: 8080%s}]
%s
`, name, ip, map[bool]string{true: ", nodePort: 30222", false: ""}[strings.Contains(extra, "NodePort") || strings.Contains(extra, "LoadBalancer")], extra)
}

// sliceYAML is the EndpointSlice of service with the pods' IPs (ready) on node.
func sliceYAML(service string, pods []*corev1.Pod) string {
	var eps []string
	for _, p := range pods {
		eps = append(eps, fmt.Sprintf("  - {addresses: [%s], nodeName: %s, conditions: {ready: true}, targetRef: {kind: Pod, name: %s, namespace: default}}", p.Status.PodIP, p.Spec.NodeName, p.Name))
	}
	list := "\n" + strings.Join(eps, "\n")
	if len(eps) == 0 {
		list = " []"
	}
	return fmt.Sprintf(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %s-manual
  labels: {kubernetes.io/service-name: %s}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:%s
`, service, service, list)
}

// ask sends an HTTP request to addr from the host and returns the pod name
// that answered, "" when refused or timed out (err says which).
func ask(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	_, body, _ := strings.Cut(b.String(), "\r\n\r\n")
	return strings.TrimSpace(body), nil
}

// askFromPod sends the request from inside the network namespace of the pod
// whose process pid is given (busybox nc, as a pod would).
func askFromPod(t *testing.T, pid int, addr string) string {
	t.Helper()
	h, p, _ := net.SplitHostPort(addr)
	cmd := exec.Command("nsenter", "-t", fmt.Sprint(pid), "-n", "/bin/busybox", "nc", "-w", "3", h, p)
	cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\nHost: x\r\n\r\n")
	out, _ := cmd.Output()
	_, body, _ := strings.Cut(string(out), "\r\n\r\n")
	return strings.TrimSpace(body)
}

func names(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		name, err := ask(addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		seen[name]++
	}
	return seen
}

func nftTable(node string) (string, error) {
	out, err := exec.Command("nft", "list", "table", "ip", proxy.TableName(node)).CombinedOutput()
	return string(out), err
}

func needProxy(t *testing.T) {
	hosttest.Require(t, host.NFTables, host.Conntrack)
}

func runningPods(cl *cluster, selector string, n int) func() bool {
	return func() bool {
		k := 0
		for _, p := range cl.pods(selector) {
			if running(p) {
				k++
			}
		}
		return k == n
	}
}

func setStatusLB(t *testing.T, cl *cluster, name, ip string) {
	t.Helper()
	k, _ := object.ByKind("Service")
	ref := events.Ref{Kind: "Service", Namespace: "default", Name: name}
	st, _ := json.Marshal(corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: ip}}}})
	ev, _ := events.New(object.EventType(k, object.Status), ref, "test", &object.StatusChange{Status: st})
	ctx := context.Background()
	v, err := cl.srv.Log().SubjectVersion(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.srv.Log().Append(ctx, ev, v); err != nil {
		t.Fatal(err)
	}
}

// A ClusterIP over 3 pods of node-x, on the node's nftables table.
func TestServiceProxy(t *testing.T) {
	needProxy(t)
	cl := startClusterWith(t, 0, "node-x", "10.66.22.0/24", "wke2ex")
	cl.stopAgent()
	cl.cfg.ProxySyncPeriod = time.Second
	cl.startAgent()
	importDemo(t, cl)
	cl.apply(webDeployment)
	eventually(t, "3 pods running", 60*time.Second, runningPods(cl, "app=web", 3))
	pods := cl.pods("app=web")
	cl.apply(serviceYAML("web", "10.96.22.10", "  type: NodePort") + "---\n" + sliceYAML("web", pods))
	cl.apply(serviceYAML("empty", "10.96.22.11", ""))
	cl.apply(serviceYAML("self", "10.96.22.12", "") + "---\n" + sliceYAML("self", pods[:1]))

	const vip = "10.96.22.10:80"
	eventually(t, "the ClusterIP answers from the host", 20*time.Second, func() bool { name, _ := ask(vip); return name != "" })
	seen := names(t, vip, 60)
	for _, p := range pods {
		if seen[p.Name] == 0 {
			t.Errorf("pod %s never answered on %s: %v", p.Name, vip, seen)
		}
	}
	t.Logf("60 requests to %s from the host: %v", vip, seen)

	// The node port on the node's address (its bridge's).
	if name, err := ask("10.66.22.1:30222"); err != nil || name == "" {
		t.Errorf("node port 30222 on 10.66.22.1: %q, %v", name, err)
	}

	// Another pod reaches the Service; a pod reaching its own Service
	// answers itself (hairpin).
	pidA := containerPID(t, pods[0].Status.PodIP)
	pidB := containerPID(t, pods[1].Status.PodIP)
	if got := askFromPod(t, pidB, vip); got == "" {
		t.Errorf("pod %s got no answer from %s", pods[1].Name, vip)
	}
	if got := askFromPod(t, pidA, "10.96.22.12:80"); got != pods[0].Name {
		t.Errorf("pod %s reaching its own Service got %q", pods[0].Name, got)
	}

	// A Service without endpoints refuses at once, from the host and a pod.
	start := time.Now()
	_, err := ask("10.96.22.11:80")
	if err == nil || !strings.Contains(err.Error(), "refused") || time.Since(start) > time.Second {
		t.Errorf("a Service without endpoints: %v after %s, want refused at once", err, time.Since(start))
	}

	// ClientIP affinity: one pod answers every request of a client.
	cl.apply(serviceYAML("web", "10.96.22.10", "  type: NodePort\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}"))
	eventually(t, "affinity sets in the table", 10*time.Second, func() bool { out, _ := nftTable("node-x"); return strings.Contains(out, "timeout 5m") })
	if seen := names(t, vip, 20); len(seen) != 1 {
		t.Errorf("with ClientIP affinity 20 requests reached %v, want one pod", seen)
	}
	cl.apply(serviceYAML("web", "10.96.22.10", "  type: NodePort"))

	// A LoadBalancer's external IP (the node's address) answers.
	cl.apply(`apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  clusterIP: 10.96.22.13
  ports: [{name: http, port: 8081, targetPort: 8080, nodePort: 30223}]
---
` + sliceYAML("lb", pods))
	setStatusLB(t, cl, "lb", "10.66.22.1")
	eventually(t, "the LoadBalancer's IP answers", 10*time.Second, func() bool { name, _ := ask("10.66.22.1:8081"); return name != "" })

	// Scale down during a request loop: once the rules lack the removed
	// endpoint, no request reaches it.
	gone := pods[2]
	goneChain := "default/web/tcp/http__" + gone.Status.PodIP + "/8080" // the web Service's endpoint chain
	if out, _ := nftTable("node-x"); !strings.Contains(out, goneChain) {
		t.Fatalf("the table lacks chain %s:\n%s", goneChain, out)
	}
	stop := make(chan struct{})
	errs := make(chan error, 1)
	requests := 0
	go func() {
		defer close(errs)
		changed := false
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, _ := nftTable("node-x")
			after := changed || !strings.Contains(out, goneChain)
			name, err := ask(vip)
			if err != nil {
				errs <- fmt.Errorf("request during the scale-down: %v", err)
				return
			}
			if after {
				requests++
			}
			if after && name == gone.Name {
				errs <- fmt.Errorf("removed endpoint %s answered after its rules were gone", gone.Name)
				return
			}
			changed = after
		}
	}()
	time.Sleep(300 * time.Millisecond)
	cl.apply(sliceYAML("web", pods[:2]))
	eventually(t, "the removed endpoint's rules gone", 10*time.Second, func() bool {
		out, _ := nftTable("node-x")
		return !strings.Contains(out, goneChain)
	})
	time.Sleep(time.Second)
	close(stop)
	if err := <-errs; err != nil {
		t.Error(err)
	}
	if requests < 10 {
		t.Errorf("only %d requests after the endpoint's rules were gone", requests)
	}

	// The table deleted by hand comes back at the next sync.
	if out, err := exec.Command("nft", "delete", "table", "ip", proxy.TableName("node-x")).CombinedOutput(); err != nil {
		t.Fatalf("nft delete table: %v: %s", err, out)
	}
	eventually(t, "the table restored", 10*time.Second, func() bool { name, _ := ask(vip); return name != "" })

	// The agent stops: the rules stay; a new agent keeps them.
	cl.stopAgent()
	if name, err := ask(vip); name == "" {
		t.Errorf("with the agent stopped the Service does not answer: %v", err)
	}
	cl.startAgent()
	time.Sleep(1500 * time.Millisecond)
	if name, err := ask(vip); name == "" {
		t.Errorf("after the agent restarted the Service does not answer: %v", err)
	}

	// wake down removes the table.
	cl.stopAgent()
	zero := time.Duration(0)
	if _, err := teardown.Run(context.Background(), teardown.Config{StateDir: cl.cfg.StateDir, Socket: cl.socket, Namespace: cl.cfg.Namespace,
		Bridge: cl.cfg.Bridge, PodCIDR: cl.cfg.PodCIDR, GracePeriod: &zero}); err != nil {
		t.Errorf("wake down: %v", err)
	}
	if out, err := nftTable("node-x"); err == nil {
		t.Errorf("after wake down the table is still there:\n%s", out)
	}
	cl.startAgent() // for the cleanup, which stops it
}

// Two agents on this machine (bridges wke2ex and wke2ey): one Service over
// pods of both nodes answers from the host and from a pod of each node with
// pods of both.
func TestServiceAcrossTwoNodes(t *testing.T) {
	needProxy(t)
	cl := startClusterWith(t, 0, "node-x", "10.66.22.0/24", "wke2ex")
	other := cl.join("node-y", "10.66.23.0/24", "wke2ey")
	importDemo(t, cl)
	importDemo(t, other)
	cl.apply(strings.Replace(webDeployment, "replicas: 3", "replicas: 4", 1))
	eventually(t, "4 pods running on both nodes", 60*time.Second, func() bool {
		on := map[string]int{}
		for _, p := range cl.pods("app=web") {
			if running(p) {
				on[p.Spec.NodeName]++
			}
		}
		return on["node-x"]+on["node-y"] == 4 && on["node-x"] > 0 && on["node-y"] > 0
	})
	pods := cl.pods("app=web")
	cl.apply(serviceYAML("web", "10.96.22.20", "") + "---\n" + sliceYAML("web", pods))
	const vip = "10.96.22.20:80"
	eventually(t, "the ClusterIP answers", 20*time.Second, func() bool { name, _ := ask(vip); return name != "" })
	for _, out := range []string{"node-x", "node-y"} {
		if _, err := nftTable(out); err != nil {
			t.Errorf("node %s has no table %s: %v", out, proxy.TableName(out), err)
		}
	}
	want := map[string]bool{}
	for _, p := range pods {
		want[p.Name] = true
	}
	seen := names(t, vip, 60)
	for name := range want {
		if seen[name] == 0 {
			t.Errorf("pod %s never answered from the host: %v", name, seen)
		}
	}
	// From a pod of each node, pods of both nodes answer.
	for _, node := range []string{"node-x", "node-y"} {
		var from *corev1.Pod
		for _, p := range pods {
			if p.Spec.NodeName == node {
				from = p
			}
		}
		pid := containerPID(t, from.Status.PodIP)
		on := map[string]bool{}
		for i := 0; i < 40 && len(on) < 2; i++ {
			name := askFromPod(t, pid, vip)
			for _, p := range pods {
				if p.Name == name {
					on[p.Spec.NodeName] = true
				}
			}
		}
		if !on["node-x"] || !on["node-y"] {
			t.Errorf("from pod %s on %s the Service reached pods on %v, want both nodes", from.Name, node, on)
		}
	}
}

// The userspace proxy (--proxy-mode=userspace): a ClusterIP reaches every
// pod from the host and from a pod, a Service without endpoints refuses at
// once, and no nftables table is made.
func TestUserspaceProxy(t *testing.T) {
	cl := startClusterWith(t, 0, "node-x", "10.66.22.0/24", "wke2ex")
	cl.stopAgent()
	cl.cfg.ProxyMode = proxy.ModeUserspace
	cl.startAgent()
	importDemo(t, cl)
	cl.apply(strings.Replace(webDeployment, "replicas: 3", "replicas: 2", 1))
	eventually(t, "2 pods running", 60*time.Second, runningPods(cl, "app=web", 2))
	pods := cl.pods("app=web")
	cl.apply(serviceYAML("web", "10.96.22.30", "") + "---\n" + sliceYAML("web", pods))
	cl.apply(serviceYAML("empty", "10.96.22.31", ""))
	const vip = "10.96.22.30:80"
	eventually(t, "the ClusterIP answers", 20*time.Second, func() bool { name, _ := ask(vip); return name != "" })
	seen := names(t, vip, 10)
	for _, p := range pods {
		if seen[p.Name] == 0 {
			t.Errorf("pod %s never answered: %v", p.Name, seen)
		}
	}
	if got := askFromPod(t, containerPID(t, pods[0].Status.PodIP), vip); got == "" {
		t.Errorf("a pod got no answer from %s", vip)
	}
	start := time.Now()
	if _, err := ask("10.96.22.31:80"); err == nil || !strings.Contains(err.Error(), "refused") || time.Since(start) > time.Second {
		t.Errorf("a Service without endpoints: %v after %s, want refused at once", err, time.Since(start))
	}
	if out, err := nftTable("node-x"); err == nil {
		t.Errorf("the userspace proxy made an nftables table:\n%s", out)
	}
	// Stopped, the proxy takes its addresses off the bridge.
	cl.stopAgent()
	if out, _ := exec.Command("ip", "-4", "addr", "show", "dev", "wke2ex").Output(); strings.Contains(string(out), "10.96.22.30") {
		t.Errorf("the stopped userspace proxy left its address on the bridge:\n%s", out)
	}
	cl.startAgent()
}
