package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetEnvAndResources(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	if r := h.ok("set", "env", "deploy/web", "A=1", "B=two words"); r.out != "deployment.apps/web env updated\n" {
		t.Errorf("set env printed %q", r.out)
	}
	env := func() string {
		raw, _ := json.Marshal(field(h.getObject("deploy/web"), "spec.template.spec.containers").([]any)[0].(map[string]any)["env"])
		return string(raw)
	}
	if got := env(); got != `[{"name":"A","value":"1"},{"name":"B","value":"two words"}]` {
		t.Errorf("env %s", got)
	}
	h.ok("set", "env", "deployment", "web", "-c", "web", "A-", "B=2", "-e", "C=3")
	if got := env(); got != `[{"name":"B","value":"2"},{"name":"C","value":"3"}]` {
		t.Errorf("env after A-, B=2, -e C=3: %s", got)
	}
	if r := h.fails("set", "env", "deploy/web", "-c", "nope", "X=1"); r.errLine != `error: unable to find container named "nope" (containers: web)` {
		t.Errorf("unknown container: %q", r.errLine)
	}
	if r := h.fails("set", "env", "deploy/web"); !strings.Contains(r.errLine, "at least one environment variable") {
		t.Errorf("no variables: %q", r.errLine)
	}

	r := h.ok("set", "resources", "deploy/web", "--limits=cpu=200m,memory=512Mi", "--requests=cpu=100m", "--record")
	if r.out != "deployment.apps/web resource requirements updated\n" {
		t.Errorf("set resources printed %q", r.out)
	}
	d := h.getObject("deploy/web")
	res, _ := json.Marshal(field(d, "spec.template.spec.containers").([]any)[0].(map[string]any)["resources"])
	if string(res) != `{"limits":{"cpu":"200m","memory":"512Mi"},"requests":{"cpu":"100m"}}` {
		t.Errorf("resources %s", res)
	}
	if cause := field(d, "metadata.annotations").(map[string]any)[client.ChangeCauseAnnotation]; cause != "wake set resources --limits cpu=200m,memory=512Mi --requests cpu=100m deploy/web" {
		t.Errorf("--record change cause %q", cause)
	}
	if r := h.fails("set", "resources", "deploy/web", "--requests=cpu=2"); !strings.Contains(r.errLine, "cpu request 2 is more than its limit 200m") {
		t.Errorf("request above limit: %q", r.errLine)
	}
	if r := h.fails("set", "resources", "deploy/web", "--limits=cpu=lots"); !strings.HasPrefix(r.errLine, "error: --limits: cpu=lots:") {
		t.Errorf("bad quantity: %q", r.errLine)
	}
	h.ok("set", "image", "deploy/web", "web=nginx:1.27", "--record")
	d = h.getObject("deploy/web")
	if cause := field(d, "metadata.annotations").(map[string]any)[client.ChangeCauseAnnotation]; cause != "wake set image deploy/web web=nginx:1.27" {
		t.Errorf("set image --record change cause %q", cause)
	}
	// An unchanged env appends nothing.
	before := h.lastSeq()
	h.ok("set", "env", "deploy/web", "B=2")
	if after := h.lastSeq(); after != before {
		t.Errorf("an unchanged set env appended %d events", after-before)
	}
}

// readyPods reports every live pod not yet running as running and ready, as a
// node agent would, and returns how many it reported.
func readyPods(t *testing.T, h *harness) int {
	t.Helper()
	c, err := client.Connect(h.srv.ClientURL(), h.srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k, _ := object.ByKind("Pod")
	objs, _, err := c.Query.List(context.Background(), k, "default", "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodRunning {
			continue
		}
		now := metav1.Now()
		status, _ := json.Marshal(corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &now,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}})
		ev, err := events.New("pod."+object.Status, events.Ref{Kind: "Pod", Namespace: "default", Name: p.Name, Node: "n1"}, "system:node-agent", &object.StatusChange{Status: status})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.srv.Log().Append(context.Background(), ev, 0); err != nil && !strings.Contains(err.Error(), "conflict") {
			// a second report of the same pod conflicts: fine
			t.Logf("ready %s: %v", p.Name, err)
		}
		n++
	}
	return n
}

// rolledOut waits until rollout status says done, reporting pods ready as they come.
func rolledOut(t *testing.T, h *harness) {
	t.Helper()
	eventstest.Eventually(t, "the rollout to finish", func() bool {
		readyPods(t, h)
		return h.run("rollout", "status", "deploy/web", "--watch=false").out == "deployment \"web\" successfully rolled out\n"
	})
}

func TestRolloutStatusHistoryUndo(t *testing.T) {
	h := newHarnessWith(t, controlplane.Config{})
	h.ok("apply", "-f", h.file("web.yaml", webYAML), "--as", "alice")
	eventstest.Eventually(t, "pods waiting", func() bool {
		return strings.HasPrefix(h.run("rollout", "status", "deploy/web", "-w=false").out,
			`Waiting for deployment "web" rollout to finish: 0 of 3 updated replicas are available...`)
	})
	// Waiting ends with --timeout, with kubectl's error.
	r := h.fails("rollout", "status", "deploy/web", "--timeout=500ms")
	if r.errLine != "error: timed out waiting for the condition" || !strings.Contains(r.out, "0 of 3 updated replicas are available...") {
		t.Errorf("timed out: %q, printed %q", r.errLine, r.out)
	}
	rolledOut(t, h)

	h.ok("set", "image", "deploy/web", "web=nginx:1.26", "--record", "--as", "bob")
	// A watching status follows the rollout to its end as pods become ready.
	done := make(chan result, 1)
	go func() { done <- h.run("rollout", "status", "deploy/web", "--timeout=60s") }()
	var st result
	eventstest.Eventually(t, "rollout status to return", func() bool {
		readyPods(t, h)
		select {
		case st = <-done:
			return true
		default:
			return false
		}
	})
	if st.failed() || !strings.HasSuffix(st.out, "deployment \"web\" successfully rolled out\n") || !strings.Contains(st.out, `Waiting for deployment "web" rollout to finish: `) {
		t.Errorf("rollout status: %q %q", st.out, st.errLine)
	}
	for _, l := range strings.Split(strings.TrimSpace(st.out), "\n") {
		// Status may start before the controller has seen the new generation.
		if !strings.HasPrefix(l, `Waiting for deployment "web" rollout to finish: `) && l != `deployment "web" successfully rolled out` &&
			l != "Waiting for deployment spec update to be observed..." {
			t.Errorf("rollout status line %q is not one of kubectl's", l)
		}
	}

	hist := h.ok("rollout", "history", "deploy/web").out
	rows := lines(hist)
	if len(rows) != 4 || hist[:len("deployment.apps/web \n")] != "deployment.apps/web \n" ||
		strings.Join(rows[1], " ") != "REVISION CHANGE-CAUSE BY AT REPLICASET" {
		t.Fatalf("history:\n%s", hist)
	}
	if rows[2][0] != "1" || rows[2][1] != "<none>" || rows[2][2] != "user:alice" {
		t.Errorf("revision 1: %q", rows[2])
	}
	if rows[3][0] != "2" || !strings.Contains(hist, "wake set image --as bob deploy/web web=nginx:1.26") || rows[3][len(rows[3])-3] != "user:bob" {
		t.Errorf("revision 2: %q", rows[3])
	}
	if _, err := time.Parse(time.RFC3339, rows[3][len(rows[3])-2]); err != nil {
		t.Errorf("revision 2's time %q: %v", rows[3][len(rows[3])-2], err)
	}
	rev1 := h.ok("rollout", "history", "deploy/web", "--revision=1").out
	if !strings.HasPrefix(rev1, "deployment.apps/web with revision #1\nPod Template:\n") || !strings.Contains(rev1, "nginx:1.25") {
		t.Errorf("history --revision=1:\n%s", rev1)
	}
	if r := h.fails("rollout", "history", "deploy/web", "--revision=7"); r.errLine != "error: unable to find the specified revision" {
		t.Errorf("missing revision: %q", r.errLine)
	}

	// undo goes back to revision 1's template, which becomes revision 3.
	if r := h.ok("rollout", "undo", "deploy/web", "--as", "carol"); r.out != "deployment.apps/web rolled back\n" {
		t.Errorf("undo printed %q", r.out)
	}
	if img := field(h.getObject("deploy/web"), "spec.template.spec.containers").([]any)[0].(map[string]any)["image"]; img != "nginx:1.25" {
		t.Errorf("image after undo: %v", img)
	}
	rolledOut(t, h)
	hist = h.ok("rollout", "history", "deploy/web").out
	rows = lines(hist)
	if len(rows) != 5 || rows[2][0] != "1" || !strings.HasSuffix(hist, "\n\n") || !strings.HasSuffix(strings.Join(rows[2], " "), "(gone)") ||
		rows[4][0] != "3" || rows[4][2] != "user:carol" {
		t.Errorf("history after undo (revision 1 renumbered 3, made by carol):\n%s", hist)
	}
	if r := h.ok("rollout", "undo", "deploy/web", "--to-revision=3"); r.out != "deployment.apps/web skipped rollback (current template already matches revision 3)\n" {
		t.Errorf("undo to the current revision: %q", r.out)
	}
	if r := h.fails("rollout", "undo", "deploy/web", "--to-revision=1"); r.errLine != "error: unable to find specified revision 1 in history" {
		t.Errorf("undo to a renumbered revision: %q", r.errLine)
	}

	// pause, resume, restart.
	if r := h.ok("rollout", "pause", "deploy/web"); r.out != "deployment.apps/web paused\n" {
		t.Errorf("pause printed %q", r.out)
	}
	if r := h.fails("rollout", "pause", "deploy/web"); r.errLine != `error: deployments.apps "web" is already paused` {
		t.Errorf("pause twice: %q", r.errLine)
	}
	if r := h.fails("rollout", "restart", "deploy/web"); r.errLine != `error: deployments.apps "web" can't restart paused deployment (run rollout resume first)` {
		t.Errorf("restart paused: %q", r.errLine)
	}
	if r := h.fails("rollout", "undo", "deploy/web"); !strings.Contains(r.errLine, "you cannot rollback a paused deployment") {
		t.Errorf("undo paused: %q", r.errLine)
	}
	if r := h.ok("rollout", "resume", "deploy/web"); r.out != "deployment.apps/web resumed\n" {
		t.Errorf("resume printed %q", r.out)
	}
	if r := h.fails("rollout", "resume", "deploy/web"); r.errLine != `error: deployments.apps "web" is not paused` {
		t.Errorf("resume twice: %q", r.errLine)
	}
	if r := h.ok("rollout", "restart", "deploy/web"); r.out != "deployment.apps/web restarted\n" {
		t.Errorf("restart printed %q", r.out)
	}
	ann := field(h.getObject("deploy/web"), "spec.template.metadata.annotations").(map[string]any)
	if at, err := time.Parse(time.RFC3339, fmt.Sprint(ann[client.RestartedAtAnnotation])); err != nil || time.Since(at) > time.Minute {
		t.Errorf("restartedAt %v: %v", ann[client.RestartedAtAnnotation], err)
	}
	rolledOut(t, h)
	if n := len(lines(h.ok("rollout", "history", "deploy/web").out)); n != 6 {
		t.Errorf("history after the restart has %d lines, want revision 4 added", n)
	}
	if r := h.fails("rollout", "status", "rs/web"); !strings.Contains(r.errLine, "works on deployments") {
		t.Errorf("status of a replicaset: %q", r.errLine)
	}
}

// A rollout that passes its progress deadline makes rollout status fail with
// kubectl's error.
func TestRolloutStatusFailsAtTheProgressDeadline(t *testing.T) {
	h := newHarnessWith(t, controlplane.Config{})
	manifest := strings.Replace(webYAML, "  replicas: 3\n", "  replicas: 1\n  progressDeadlineSeconds: 2\n", 1)
	h.ok("apply", "-f", h.file("web.yaml", manifest))
	start := time.Now()
	r := h.fails("rollout", "status", "deploy/web", "--timeout=30s")
	if r.errLine != `error: deployment "web" exceeded its progress deadline` || !strings.Contains(r.out, "updated replicas are available...") {
		t.Errorf("status at the deadline: %q, printed %q", r.errLine, r.out)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the deadline of 2s was reported after %s", d)
	}
}
