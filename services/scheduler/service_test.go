package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	corev1 "k8s.io/api/core/v1"
)

func applyPod(t *testing.T, c *client.Client, name, cpu string) {
	t.Helper()
	manifest := `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  containers:
  - name: c
    image: busybox:1.36
    resources: {requests: {cpu: "` + cpu + `"}}
`
	controlplanetest.Apply(t, c, manifest)
}

// waitPod polls until cond holds for the pod.
func waitPod(t *testing.T, c *client.Client, name string, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	k, _ := object.ByKind("Pod")
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.Query.Get(context.Background(), k, "default", name)
		if err != nil {
			t.Fatalf("pod %s: %v", name, err) // it exists: every get answers
		}
		if cond(st.Object.(*corev1.Pod)) {
			return st.Object.(*corev1.Pod)
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: %s did not happen", name, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scheduled(p *corev1.Pod) (corev1.ConditionStatus, string) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status, c.Message
		}
	}
	return "", ""
}

func TestBindsSpreadsAndRetriesWhenTheClusterChanges(t *testing.T) {
	_, c := controlplanetest.Start(t, controlplane.Config{})
	controlplanetest.RegisterNode(t, c.Log, "n1", "4")
	controlplanetest.RegisterNode(t, c.Log, "n2", "4", corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule})
	controlplanetest.RegisterNode(t, c.Log, "n3", "4")
	for _, name := range []string{"a", "b"} {
		applyPod(t, c, name, "1")
	}
	onNode := map[string]bool{}
	for _, name := range []string{"a", "b"} {
		p := waitPod(t, c, name, "bound", func(p *corev1.Pod) bool { return p.Spec.NodeName != "" })
		if p.Spec.NodeName == "n2" {
			t.Errorf("pod %s bound to the tainted node", name)
		}
		onNode[p.Spec.NodeName] = true
	}
	if len(onNode) != 2 {
		t.Errorf("two equal pods on equal nodes were not spread: %v", onNode)
	}

	applyPod(t, c, "huge", "16")
	p := waitPod(t, c, "huge", "reported unschedulable", func(p *corev1.Pod) bool { s, _ := scheduled(p); return s == corev1.ConditionFalse })
	_, msg := scheduled(p)
	want := "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."
	if msg != want {
		t.Errorf("unschedulable message %q, want %q", msg, want)
	}
	controlplanetest.RegisterNode(t, c.Log, "big", "32")
	p = waitPod(t, c, "huge", "bound after a node joined", func(p *corev1.Pod) bool { return p.Spec.NodeName != "" })
	if p.Spec.NodeName != "big" {
		t.Errorf("huge pod on %s, want big", p.Spec.NodeName)
	}

	// The audit trail: the binding names the scheduler, the pod's apply as cause,
	// and the scores that won; the unschedulable report is appended once.
	cur, err := c.Log.Read(context.Background(), events.ReadOptions{Subjects: []string{"ev.pod.default.huge"}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	var types []string
	for {
		rec, err := cur.Next(context.Background())
		if err != nil {
			break
		}
		ev, err := rec.Decode()
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ev.Type)
		if ev.Type == "pod.bound" {
			var b object.Binding
			_ = json.Unmarshal(ev.Payload, &b)
			if ev.Actor != "system:scheduler" || ev.Cause == "" || !strings.Contains(b.Message, "score") {
				t.Errorf("binding event: actor %q cause %q message %q", ev.Actor, ev.Cause, b.Message)
			}
		}
	}
	// A report is appended only when its message changes: the joining node was
	// briefly not ready (registered before its status), which is a new reason.
	got := strings.Join(types, ",")
	if !strings.HasPrefix(got, "pod.created,pod.unschedulable,") || !strings.HasSuffix(got, ",pod.bound") || strings.Count(got, "unschedulable") > 2 {
		t.Errorf("events of the huge pod: %s", got)
	}
}

// A pod that mounts a claim wake does not serve stays Pending, saying which
// claim is missing, even when a node joins; it is never bound to run without it.
func TestAPodWhoseClaimIsMissingStaysPending(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	controlplanetest.RegisterNode(t, c.Log, "n1", "4")
	manifest := `apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  containers: [{name: c, image: busybox:1.36}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: db-data}}]
`
	docs, err := object.Decode("db.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetNamespace(docs, "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(context.Background(), &docs[0], client.ModeApply); err != nil {
		t.Fatal(err)
	}
	want := `0/1 nodes are available: 1 persistentvolumeclaim "db-data" not found.`
	p := waitPod(t, c, "db", "reported unschedulable", func(p *corev1.Pod) bool { s, _ := scheduled(p); return s == corev1.ConditionFalse })
	if _, msg := scheduled(p); msg != want || p.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, PodScheduled message %q, want Pending and %q", p.Status.Phase, msg, want)
	}
	controlplanetest.RegisterNode(t, c.Log, "n2", "4")
	want = `0/2 nodes are available: 2 persistentvolumeclaim "db-data" not found.`
	p = waitPod(t, c, "db", "reported unschedulable on two nodes", func(p *corev1.Pod) bool { _, msg := scheduled(p); return msg == want })
	if p.Spec.NodeName != "" {
		t.Errorf("bound to %s without its claim", p.Spec.NodeName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cur, err := srv.Log().Read(ctx, events.ReadOptions{Subjects: []string{events.Ref{Kind: "Pod", Namespace: "default", Name: "db"}.Subject()}, Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	var reasons []string
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ev, err := rec.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "pod.bound" {
			t.Errorf("pod bound: %s", ev.Reason)
		}
		if ev.Type == "pod.unschedulable" {
			reasons = append(reasons, ev.Reason)
		}
	}
	if len(reasons) == 0 || !strings.Contains(reasons[0], `persistentvolumeclaim "db-data" not found`) {
		t.Errorf("unschedulable events %q, want each to name the claim", reasons)
	}
}
