package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	corev1 "k8s.io/api/core/v1"
)

const servicePods = `apiVersion: v1
kind: Pod
metadata: {name: web-a, labels: {app: web}}
spec:
  containers: [{name: c, image: demo:1, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-b, labels: {app: web}}
spec:
  containers: [{name: c, image: demo:1, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`

// report appends what node n reports of a pod: running at ip, ready or not.
func (h *harness) report(pod, node, ip string, ready bool) {
	h.t.Helper()
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	status, _ := json.Marshal(corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}})
	ref := events.Ref{Kind: "Pod", Namespace: "default", Name: pod, Node: node}
	h.appendAs("system:node:"+node, "pod."+object.Status, ref, &object.StatusChange{Status: status})
}

func (h *harness) appendAs(actor, typ string, ref events.Ref, payload any) {
	h.t.Helper()
	ctx := context.Background()
	ev, err := events.New(typ, ref, actor, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	v, err := h.srv.Log().SubjectVersion(ctx, ref)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.srv.Log().Append(ctx, ev, v); err != nil {
		h.t.Fatal(err)
	}
}

// eventually runs wake until its output contains want.
func (h *harness) eventually(want string, args ...string) result {
	h.t.Helper()
	var r result
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r = h.run(args...); !r.failed() && strings.Contains(r.out+r.errOut, want) {
			return r
		}
	}
	h.t.Fatalf("wake %s never printed %q; last:\n%s%s", strings.Join(args, " "), want, r.out, r.errLine)
	return r
}

func TestServiceEndpoints(t *testing.T) {
	h := newHarnessWith(t, controlplane.Config{})
	h.ok("apply", "-f", h.file("web.yaml", servicePods))
	h.report("web-a", "node-e", "10.88.0.5", true)
	h.report("web-b", "node-e", "10.88.0.6", false)

	r := h.eventually("10.88.0.5:8080", "get", "ep")
	if rows := lines(r.out); len(rows) != 2 || strings.Join(rows[0], " ") != "NAME ENDPOINTS AGE" || rows[1][0] != "web" || rows[1][1] != "10.88.0.5:8080" {
		t.Errorf("get ep:\n%s", r.out)
	}
	r = h.eventually("10.88.0.5,10.88.0.6", "get", "endpointslices", "-o", "wide")
	rows := lines(r.out)
	if len(rows) != 2 || strings.Join(rows[0], " ") != "NAME ADDRESSTYPE PORTS ENDPOINTS AGE" || !strings.HasPrefix(rows[1][0], "web-") ||
		strings.Join(rows[1][1:4], " ") != "IPv4 8080 10.88.0.5,10.88.0.6" {
		t.Errorf("get endpointslices -o wide:\n%s", r.out)
	}
	slice := h.getObject("endpointslices", rows[1][0])
	if labels := field(slice, "metadata.labels").(map[string]any); labels["kubernetes.io/service-name"] != "web" ||
		labels["endpointslice.kubernetes.io/managed-by"] != "endpointslice-controller.wake.run" {
		t.Errorf("slice labels %v", labels)
	}

	r = h.ok("get", "svc", "-o", "wide")
	rows = lines(r.out)
	if len(rows) != 2 || strings.Join(rows[0], " ") != "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR" ||
		rows[1][1] != "ClusterIP" || rows[1][3] != "<none>" || rows[1][4] != "80/TCP" || rows[1][6] != "app=web" {
		t.Errorf("get svc -o wide:\n%s", r.out)
	}
	ip := netip.MustParseAddr(rows[1][2])
	if !netip.MustParsePrefix("10.96.0.0/16").Contains(ip) {
		t.Errorf("cluster IP %s is not in the default service CIDR", ip)
	}

	d := h.ok("describe", "svc", "web").out
	described := map[string]string{}
	for _, l := range strings.Split(d, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			described[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	for k, want := range map[string]string{"Selector": "app=web", "Type": "ClusterIP", "IP Family Policy": "SingleStack",
		"IP Families": "IPv4", "IP": ip.String(), "IPs": ip.String(), "Port": "http 80/TCP", "TargetPort": "http/TCP",
		"Endpoints": "10.88.0.5:8080", "Session Affinity": "None"} {
		if described[k] != want {
			t.Errorf("describe svc web: %s: %q, want %q:\n%s", k, described[k], want, d)
		}
	}

	// web-b becomes ready; web-a is deleted: terminating, it leaves the Endpoints.
	h.report("web-b", "node-e", "10.88.0.6", true)
	h.eventually("10.88.0.5:8080,10.88.0.6:8080", "get", "ep", "web")
	h.ok("delete", "pod", "web-a")
	h.eventually("web    10.88.0.6:8080 ", "get", "ep", "web")

	// Deleting the Service deletes its endpoints; each change was an event.
	h.ok("delete", "svc", "web")
	h.eventually("No resources found", "get", "endpointslices")
	if r := h.run("get", "ep", "web"); !r.failed() {
		t.Errorf("the endpoints outlived their service:\n%s", r.out)
	}
	var byController int
	for _, ev := range h.subjectEvents(events.Ref{Kind: "Endpoints", Namespace: "default", Name: "web"}) {
		if ev.Actor == "system:endpoints-controller" {
			byController++
		}
	}
	if byController < 4 {
		t.Errorf("%d Endpoints events by the controller, want created, updates and deleted", byController)
	}
}

func TestServiceAllocation(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "service", "clusterip", "a", "--tcp=80", "--clusterip=10.96.0.50")
	before := h.lastSeq()
	if r := h.fails("create", "service", "clusterip", "b", "--tcp=80", "--clusterip=10.96.0.50"); !strings.Contains(r.errLine,
		`spec.clusterIPs: Invalid value: ["10.96.0.50"]: failed to allocate IP 10.96.0.50: provided IP is already allocated`) {
		t.Errorf("a taken cluster IP: %q", r.errLine)
	}
	if r := h.fails("create", "service", "clusterip", "b", "--tcp=80", "--clusterip=10.0.0.9"); !strings.Contains(r.errLine,
		"the provided IP (10.0.0.9) is not in the valid range. The range of valid IPs is 10.96.0.0/16") {
		t.Errorf("a cluster IP out of range: %q", r.errLine)
	}
	if r := h.fails("create", "service", "clusterip", "b", "--tcp=80", "--clusterip=10.96.0.10"); !strings.Contains(r.errLine,
		"reserved for the cluster DNS service kube-system/kube-dns") {
		t.Errorf("the DNS address: %q", r.errLine)
	}
	h.ok("create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080")
	after := h.lastSeq()
	if r := h.fails("create", "service", "nodeport", "np2", "--tcp=80:8080", "--node-port=30080"); !strings.Contains(r.errLine,
		"spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated") {
		t.Errorf("a taken node port: %q", r.errLine)
	}
	if h.lastSeq() != after || after != before+1 {
		t.Errorf("refused writes appended events: %d, %d, %d", before, after, h.lastSeq())
	}

	h.ok("create", "service", "loadbalancer", "lb", "--tcp=443:8443")
	h.ok("create", "service", "clusterip", "headless", "--clusterip=None")
	h.ok("create", "service", "externalname", "ext", "--external-name=example.com")
	r := h.ok("get", "svc")
	got := map[string][]string{}
	for _, row := range lines(r.out)[1:] {
		got[row[0]] = row
	}
	if row := got["np"]; row[1] != "NodePort" || row[4] != "80:30080/TCP" {
		t.Errorf("np: %v", row)
	}
	if row := got["lb"]; row[1] != "LoadBalancer" || row[3] != "<pending>" || !strings.HasPrefix(row[4], "443:3") {
		t.Errorf("lb: %v", row)
	}
	if row := got["headless"]; row[2] != "None" {
		t.Errorf("headless: %v", row)
	}
	if row := got["ext"]; row[1] != "ExternalName" || row[2] != "<none>" || row[3] != "example.com" {
		t.Errorf("ext: %v", row)
	}
	// Reapplying keeps what was allocated; deleting releases it.
	lbIP := got["lb"][2]
	h.ok("apply", "-f", h.file("lb.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: lb, labels: {tier: edge}}\nspec:\n  type: LoadBalancer\n  selector: {app: lb}\n  ports: [{name: 443-8443, port: 443, targetPort: 8443}]\n"))
	if ip := field(h.getObject("svc", "lb"), "spec.clusterIP"); ip != lbIP {
		t.Errorf("after an update the cluster IP is %v, was %s", ip, lbIP)
	}
	h.ok("delete", "svc", "a")
	h.ok("create", "service", "clusterip", "b", "--tcp=80", "--clusterip=10.96.0.50")
}

// The allocator is the Services the log holds: a restarted control plane
// refuses what was taken before it stopped.
func TestServiceAllocationAfterRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() *controlplane.Server {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: dir, Port: -1, NoWorkloadControllers: true,
			ServiceCIDR: "172.30.0.0/24", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	wake := func(args ...string) result {
		return execute(nil, append(args, "--server", srv.ClientURL(), "--credentials", srv.AdminCredentials())...)
	}
	if r := wake("create", "service", "nodeport", "a", "--tcp=80", "--node-port=31000"); r.failed() {
		t.Fatal(r.errLine)
	}
	r := wake("get", "svc", "a")
	if r.failed() || len(lines(r.out)) != 2 {
		t.Fatalf("get svc a: %s%s", r.out, r.errLine)
	}
	ip := lines(r.out)[1][2]
	if !strings.HasPrefix(ip, "172.30.0.") {
		t.Fatalf("cluster IP %q not from the service CIDR 172.30.0.0/24", ip)
	}
	srv.Shutdown()
	srv = start()
	defer srv.Shutdown()
	if r := wake("create", "service", "clusterip", "b", "--tcp=80", "--clusterip="+ip); !strings.Contains(r.errLine, "provided IP is already allocated") {
		t.Errorf("after a restart, %s was handed out again: %q", ip, r.errLine)
	}
	if r := wake("create", "service", "nodeport", "c", "--tcp=80", "--node-port=31000"); !strings.Contains(r.errLine, "provided port is already allocated") {
		t.Errorf("after a restart, node port 31000 was handed out again: %q", r.errLine)
	}
}

func TestExpose(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	if r := h.ok("expose", "deploy", "web", "--port=80", "--target-port=8080", "--type=NodePort", "--name=web-np"); r.out != "service/web-np exposed\n" {
		t.Errorf("expose printed %q", r.out)
	}
	svc := h.getObject("svc", "web-np")
	if field(svc, "spec.selector.app") != "web" || field(svc, "metadata.labels.app") != "web" || field(svc, "spec.type") != "NodePort" {
		t.Errorf("exposed service: %v", svc["spec"])
	}
	ports := field(svc, "spec.ports").([]any)[0].(map[string]any)
	if ports["port"] != float64(80) || ports["targetPort"] != float64(8080) || ports["protocol"] != "TCP" || ports["nodePort"] == nil {
		t.Errorf("exposed ports: %v", ports)
	}
	// Without --port, the containers' ports.
	h.ok("expose", "deployment/web")
	if p := field(h.getObject("svc", "web"), "spec.ports").([]any)[0].(map[string]any); p["port"] != float64(8080) {
		t.Errorf("ports taken from the containers: %v", p)
	}
	if r := h.fails("expose", "svc", "web"); !strings.Contains(r.errLine, `services "web" already exists`) {
		t.Errorf("exposing under a taken name: %q", r.errLine)
	}
	if r := h.ok("expose", "svc", "web", "--name=web2", "--dry-run=client", "-o", "yaml"); !strings.Contains(r.out, "selector:\n    app: web\n") {
		t.Errorf("expose svc --dry-run:\n%s", r.out)
	}
}

func TestLoadBalancerIngressIsTheNodes(t *testing.T) {
	h := newHarnessWith(t, controlplane.Config{})
	h.ok("create", "service", "loadbalancer", "lb", "--tcp=80:8080")
	controlplanetest.RegisterNode(t, h.srv.Log(), "node-e", "2")
	status, _ := json.Marshal(corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.66.21"}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}})
	h.appendAs("system:node:node-e", "node."+object.Status, events.Ref{Kind: "Node", Name: "node-e"}, &object.StatusChange{Status: status})
	r := h.eventually("192.168.66.21", "get", "svc", "lb")
	if row := lines(r.out)[1]; row[3] != "192.168.66.21" {
		t.Errorf("EXTERNAL-IP of lb: %v", row)
	}
	if d := h.ok("describe", "svc", "lb").out; !strings.Contains(d, "LoadBalancer Ingress:     192.168.66.21") {
		t.Errorf("describe svc lb:\n%s", d)
	}
}

// Changing a Service's type drops what only the old type had, as the API
// server does, and allocates what the new one needs.
func TestServiceTypeChange(t *testing.T) {
	h := newHarness(t)
	np := "apiVersion: v1\nkind: Service\nmetadata: {name: t}\nspec:\n  type: NodePort\n  selector: {app: t}\n  ports: [{port: 80}]\n"
	h.ok("apply", "-f", h.file("t.yaml", np))
	ip := field(h.getObject("svc", "t"), "spec.clusterIP")
	h.ok("apply", "-f", h.file("t.yaml", strings.Replace(np, "NodePort", "ClusterIP", 1)))
	svc := h.getObject("svc", "t")
	if p := field(svc, "spec.ports").([]any)[0].(map[string]any); p["nodePort"] != nil || field(svc, "spec.clusterIP") != ip {
		t.Errorf("NodePort to ClusterIP: ports %v, cluster IP %v (was %v)", p, field(svc, "spec.clusterIP"), ip)
	}
	h.ok("apply", "-f", h.file("t.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: t}\nspec:\n  type: ExternalName\n  externalName: example.com\n"))
	if svc := h.getObject("svc", "t"); field(svc, "spec.clusterIP") != nil || field(svc, "spec.clusterIPs") != nil || field(svc, "spec.ipFamilies") != nil {
		t.Errorf("to ExternalName: %v", svc["spec"])
	}
	h.ok("apply", "-f", h.file("t.yaml", np))
	svc = h.getObject("svc", "t")
	if p := field(svc, "spec.ports").([]any)[0].(map[string]any); p["nodePort"] == nil || field(svc, "spec.clusterIP") == nil {
		t.Errorf("back to NodePort: %v", svc["spec"])
	}
}

// replace keeps a Service's cluster IP across a type change, as the API
// server does: the manifest does not name it, the stored Service has it.
func TestServiceReplaceKeepsClusterIP(t *testing.T) {
	h := newHarness(t)
	svc := "apiVersion: v1\nkind: Service\nmetadata: {name: r}\nspec:\n  type: ClusterIP\n  selector: {app: r}\n  ports: [{port: 80}]\n"
	h.ok("apply", "-f", h.file("r.yaml", svc))
	ip := field(h.getObject("svc", "r"), "spec.clusterIP")
	h.ok("replace", "-f", h.file("r.yaml", strings.Replace(svc, "ClusterIP", "NodePort", 1)))
	after := h.getObject("svc", "r")
	if field(after, "spec.clusterIP") != ip || field(after, "spec.ports").([]any)[0].(map[string]any)["nodePort"] == nil {
		t.Errorf("after replace as NodePort: %v (cluster IP was %v)", after["spec"], ip)
	}
}

func TestDisjointCIDRs(t *testing.T) {
	for _, tc := range []struct{ svc, pods, err string }{
		{"10.96.0.0/16", "10.88.0.0/24", ""},
		{"10.96.0.0/16", "10.66.21.0/24", ""},
		{"10.0.0.0/8", "10.88.0.0/24", "--service-cidr 10.0.0.0/8 overlaps --pod-cidr 10.88.0.0/24"},
		{"ten", "10.88.0.0/24", "not a CIDR"},
	} {
		err := disjointCIDRs(tc.svc, tc.pods)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("disjointCIDRs(%s, %s) = %v, want %q", tc.svc, tc.pods, err, tc.err)
		}
	}
}
