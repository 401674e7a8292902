package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
)

// readyWeb is a Deployment of busybox HTTP servers that answer their pod's
// name, Ready while /tmp/ready exists, behind a Service with a selector.
const readyWeb = `apiVersion: apps/v1
kind: Deployment
metadata: {name: rd}
spec:
  replicas: 3
  selector: {matchLabels: {app: rd}}
  template:
    metadata: {labels: {app: rd}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: busybox:1.35
        command: [sh, -c, "mkdir -p /www && hostname > /www/index.html && touch /tmp/ready && exec httpd -f -p 8080 -h /www"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: rd}
spec:
  selector: {app: rd}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox:1.35, command: [sleep, "3600"]}
`

// TestServiceFollowsReadiness is a Service the whole way through wake: the
// control plane allocates its ClusterIP, the endpoints controller lists the
// Ready pods, every node's proxy balances over them, the cluster DNS names
// it. Requests to the VIP reach all 3 pods; a pod that fails its readiness
// probe stops receiving traffic within seconds and gets it back when Ready
// again; a pod reaches the Service by its short name.
func TestServiceFollowsReadiness(t *testing.T) {
	needProxy(t)
	cl := startClusterWith(t, 0, "node-v", "10.66.26.0/24", "wke2ev")
	importDemo(t, cl)
	cl.apply(readyWeb)
	eventually(t, "3 Ready pods", 90*time.Second, func() bool { return len(readyPods(cl.pods("app=rd"))) == 3 })

	k, _ := object.ByKind("Service")
	st, err := cl.c.Query.Get(context.Background(), k, "default", "rd")
	if err != nil {
		t.Fatal(err)
	}
	ip := st.Object.(*corev1.Service).Spec.ClusterIP
	if !strings.HasPrefix(ip, "10.96.") {
		t.Fatalf("the Service got cluster IP %q, want one of 10.96.0.0/16", ip)
	}
	vip := ip + ":80"
	pods := cl.pods("app=rd")
	eventually(t, "every pod answering on "+vip, 30*time.Second, func() bool {
		seen := map[string]int{}
		for range 30 {
			if name, _ := ask(vip); name != "" {
				seen[name]++
			}
		}
		return len(seen) == 3
	})

	// One pod fails its readiness probe: the endpoints controller marks it
	// not ready, the proxy stops sending it requests.
	out := pods[0].Name
	if _, errOut, err := cl.wake("", "exec", out, "--", "rm", "/tmp/ready"); err != nil {
		t.Fatalf("exec rm: %v %s", err, errOut)
	}
	start := time.Now()
	eventually(t, out+" out of the Service's rotation", 20*time.Second, func() bool {
		for range 20 {
			if name, _ := ask(vip); name == out {
				return false
			}
		}
		return true
	})
	t.Logf("%s left the rotation %s after its readiness file was removed (probe period 1 s)", out, time.Since(start).Round(100*time.Millisecond))
	for range 60 {
		if name, err := ask(vip); name == out || err != nil {
			t.Fatalf("request to %s after %s left the rotation: answered by %q, %v", vip, out, name, err)
		}
	}

	// Ready again: back in the rotation.
	if _, errOut, err := cl.wake("", "exec", out, "--", "touch", "/tmp/ready"); err != nil {
		t.Fatalf("exec touch: %v %s", err, errOut)
	}
	eventually(t, out+" back in the rotation", 20*time.Second, func() bool {
		for range 20 {
			if name, _ := ask(vip); name == out {
				return true
			}
		}
		return false
	})

	// From inside a pod, by the Service's short name, through the cluster DNS.
	eventually(t, "client running", 60*time.Second, func() bool { return running(cl.pod("client")) })
	got, errOut, err := cl.wake("", "exec", "client", "--", "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 rd 80`)
	if err != nil || !strings.Contains(got, "rd-") {
		t.Errorf("nc rd 80 from a pod: %q %s %v", got, errOut, err)
	}
}
