package agent_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/events/object/printer"
	"github.com/wake-run/wake/node/runtime"
	crt "github.com/wake-run/wake/node/runtime/containerd"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
)

// The probe pods run together on node-p, each showing one behaviour.
const probePods = `apiVersion: v1
kind: Pod
metadata: {name: toggled}
spec:
  nodeName: node-p
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "touch /tmp/wake-probe-ready && exec sleep 3600"]
    readinessProbe:
      exec: {command: [test, -f, /tmp/wake-probe-ready]}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: dying}
spec:
  nodeName: node-p
  containers:
  - name: web
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "mkdir -p /www && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet: {path: /healthz, port: http, httpHeaders: [{name: Host, value: probe.test}]}
      periodSeconds: 1
      failureThreshold: 2
      terminationGracePeriodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: slow-start}
spec:
  nodeName: node-p
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "sleep 5; touch /tmp/started; exec sleep 3600"]
    startupProbe:
      exec: {command: [test, -f, /tmp/started]}
      periodSeconds: 1
      failureThreshold: 30
    livenessProbe:
      exec: {command: [test, -f, /tmp/started]}
      periodSeconds: 1
      failureThreshold: 1
`

// One node runs pods whose probes read the container's own filesystem and its
// HTTP server over the pod network: readiness flips Ready both ways and is
// reported only when it changes; a failing liveness probe restarts the
// container under the back-off; a startup probe holds liveness back.
func TestProbes(t *testing.T) {
	cl := startClusterWith(t, 0, "node-p", "10.66.11.0/24", "wke2ep")
	importDemo(t, cl)
	rt := cl.runtimeView()
	cl.create(probePods)

	t.Run("readiness flips Ready both ways, from a file only the container has", func(t *testing.T) {
		if _, err := os.Stat("/tmp/wake-probe-ready"); err == nil {
			t.Fatal("the host has /tmp/wake-probe-ready: the test could not tell a probe run on the host from one in the container")
		}
		eventually(t, "toggled ready", 30*time.Second, func() bool { return podReady(cl.pod("toggled")) })
		ctrExec(t, rt, cl.pod("toggled"), "rm", "/tmp/wake-probe-ready")
		eventually(t, "toggled not ready", 10*time.Second, func() bool {
			p := cl.pod("toggled")
			return p != nil && !podReady(p) && p.Status.Phase == corev1.PodRunning
		})
		p := cl.pod("toggled")
		if cs := p.Status.ContainerStatuses[0]; cs.Ready || cs.State.Running == nil || cs.RestartCount != 0 {
			t.Errorf("container status %+v, want running, not ready, never restarted", cs)
		}
		if c := condition(p, corev1.ContainersReady); c != corev1.ConditionFalse {
			t.Errorf("ContainersReady = %s, want False", c)
		}
		// Failing every second, it reports neither status nor failure each time.
		statusBefore, unhealthyBefore := countEvents(t, cl, "toggled")
		time.Sleep(4 * time.Second)
		statusAfter, unhealthyAfter := countEvents(t, cl, "toggled")
		if statusAfter != statusBefore {
			t.Errorf("status events grew from %d to %d while readiness kept failing: want one per change", statusBefore, statusAfter)
		}
		if unhealthyAfter != 1 || unhealthyBefore != 1 {
			t.Errorf("unhealthy events: %d, then %d after 4 more failures; want 1 (repeats coalesce for %s)", unhealthyBefore, unhealthyAfter, "30s")
		}
		text := describePod(t, cl, "toggled")
		want := regexp.MustCompile(`Warning\s+Unhealthy\s+\S+\s+system:node:node-p\s+Readiness probe failed: command "test -f /tmp/wake-probe-ready" exited with 1`)
		if !want.MatchString(text) {
			t.Errorf("describe does not show the readiness failure as kubectl does:\n%s", text)
		}
		ctrExec(t, rt, cl.pod("toggled"), "touch", "/tmp/wake-probe-ready")
		eventually(t, "toggled ready again", 10*time.Second, func() bool { return podReady(cl.pod("toggled")) })
	})

	t.Run("a failing liveness probe restarts the container with back-off", func(t *testing.T) {
		var p *corev1.Pod
		eventually(t, "dying restarted twice", 60*time.Second, func() bool {
			p = cl.pod("dying")
			return p != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 2
		})
		// After the immediate first restart, the second waits its back-off.
		sawBackoff := false
		eventually(t, "dying in CrashLoopBackOff", 30*time.Second, func() bool {
			p = cl.pod("dying")
			w := p.Status.ContainerStatuses[0].State.Waiting
			sawBackoff = w != nil && w.Reason == "CrashLoopBackOff"
			return sawBackoff
		})
		last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
		if last == nil || last.ExitCode == 0 {
			t.Errorf("last termination %+v, want the kill's non-zero exit", last)
		}
		text := describePod(t, cl, "dying")
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`Warning\s+Unhealthy\s+.*system:node:node-p\s+Liveness probe failed: HTTP probe failed with statuscode: 404`),
			regexp.MustCompile(`Normal\s+Killing\s+.*system:node:node-p\s+Container web failed liveness probe, will be restarted`),
		} {
			if !want.MatchString(text) {
				t.Errorf("describe lacks %s:\n%s", want, text)
			}
		}
	})

	t.Run("a startup probe holds liveness back until it succeeds", func(t *testing.T) {
		p := cl.pod("slow-start")
		if p != nil && len(p.Status.ContainerStatuses) == 1 {
			cs := p.Status.ContainerStatuses[0]
			if cs.State.Running != nil && time.Since(cs.State.Running.StartedAt.Time) < 4*time.Second && (cs.Ready || *cs.Started) {
				t.Errorf("started or ready before its startup probe could succeed: %+v", cs)
			}
		}
		eventually(t, "slow-start ready", 40*time.Second, func() bool { return podReady(cl.pod("slow-start")) })
		cs := cl.pod("slow-start").Status.ContainerStatuses[0]
		if cs.RestartCount != 0 || cs.Started == nil || !*cs.Started {
			t.Errorf("status %+v: its liveness probe (failing until /tmp/started exists) ran before the startup probe succeeded", cs)
		}
		if since := time.Since(cs.State.Running.StartedAt.Time); since < 5*time.Second {
			t.Errorf("ready %s after it started, before its startup probe could succeed", since)
		}
	})
}

// Lifecycle hooks run in the container: postStart before it counts as
// started, preStop before the stop signal; a failing postStart kills it.
func TestLifecycleHooks(t *testing.T) {
	cl := startClusterWith(t, 0, "node-p", "10.66.11.0/24", "wke2ep")
	importDemo(t, cl)
	dir := t.TempDir()
	cl.create(`apiVersion: v1
kind: Pod
metadata: {name: hooked}
spec:
  nodeName: node-p
  terminationGracePeriodSeconds: 5
  volumes: [{name: out, hostPath: {path: ` + dir + `}}]
  containers:
  - name: c
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    volumeMounts: [{name: out, mountPath: /out}]
    readinessProbe:
      exec: {command: [test, -f, /tmp/post-started]}
      periodSeconds: 1
    lifecycle:
      postStart: {exec: {command: [sh, -c, "touch /tmp/post-started && echo started > /out/post-start"]}}
      preStop: {exec: {command: [sh, -c, "echo stopping > /out/pre-stop"]}}
---
apiVersion: v1
kind: Pod
metadata: {name: badhook}
spec:
  nodeName: node-p
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    lifecycle:
      postStart: {exec: {command: [sh, -c, "echo no way; exit 3"]}}
`)
	eventually(t, "hooked ready (its postStart hook ran in the container)", 30*time.Second, func() bool { return podReady(cl.pod("hooked")) })
	if b, err := os.ReadFile(filepath.Join(dir, "post-start")); err != nil || string(b) != "started\n" {
		t.Errorf("post-start file: %q, %v", b, err)
	}
	eventually(t, "badhook restarted", 30*time.Second, func() bool {
		p := cl.pod("badhook")
		return p != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if p := cl.pod("badhook"); podReady(p) {
		t.Errorf("badhook ready with a failing postStart hook: %+v", p.Status)
	}
	want := regexp.MustCompile(`Warning\s+FailedPostStartHook\s+.*Exec lifecycle hook \(\[sh -c echo no way; exit 3\]\) for Container "c" in Pod "badhook_default\(\S+\)" failed - error: no way`)
	if text := describePod(t, cl, "badhook"); !want.MatchString(text) {
		t.Errorf("describe lacks %s:\n%s", want, text)
	}
	cl.remove("Pod", "hooked")
	eventually(t, "hooked deleted", 30*time.Second, func() bool { return cl.gone("Pod", "hooked") })
	if b, err := os.ReadFile(filepath.Join(dir, "pre-stop")); err != nil || string(b) != "stopping\n" {
		t.Errorf("pre-stop file: %q, %v: the preStop hook did not run before the container stopped", b, err)
	}
}

func podReady(p *corev1.Pod) bool {
	return p != nil && p.DeletionTimestamp == nil && condition(p, corev1.PodReady) == corev1.ConditionTrue &&
		len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].Ready
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// ctrExec runs cmd in the pod's first container, as `wake exec` does.
func ctrExec(t *testing.T, rt *crt.Runtime, p *corev1.Pod, cmd ...string) {
	t.Helper()
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	var out bytes.Buffer
	code, err := rt.Exec(context.Background(), id, runtime.ExecConfig{Cmd: cmd, Stdout: &out, Stderr: &out})
	if err != nil || code != 0 {
		t.Fatalf("exec %v: exit %d, %v: %s", cmd, code, err, out.String())
	}
}

func podEvents(t *testing.T, cl *cluster, name string) []query.EventSummary {
	t.Helper()
	k, _ := object.ByKind("Pod")
	evs, err := cl.c.Query.Events(context.Background(), k, "default", name, query.RecentEvents)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// countEvents counts the pod's status reports and unhealthy reports.
func countEvents(t *testing.T, cl *cluster, name string) (status, unhealthy int) {
	for _, e := range podEvents(t, cl, name) {
		switch e.Type {
		case "pod." + object.Status:
			status++
		case "pod." + object.Unhealthy:
			unhealthy++
		}
	}
	return status, unhealthy
}

// describePod is `wake describe pod name`'s text.
func describePod(t *testing.T, cl *cluster, name string) string {
	t.Helper()
	var pevs []printer.Event
	for _, e := range podEvents(t, cl, name) {
		pevs = append(pevs, printer.Event{Time: e.Time, Type: e.Type, Actor: e.Actor, Message: e.Reason, Count: e.Count, FirstTime: e.FirstTime})
	}
	var buf bytes.Buffer
	if err := printer.Describe(&buf, cl.pod(name), pevs, time.Now()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
