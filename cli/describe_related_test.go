package cli

import (
	"context"
	"github.com/wake-run/wake/events"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
)

// eventually runs check every 50ms until it returns "" or 15s pass, then
// fails the test with its last complaint.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var replicaSetLines = regexp.MustCompile(`(?m)^OldReplicaSets:  (.*)\nNewReplicaSet:   (.*)\n`)

func TestDescribeDeploymentNamesItsOldAndNewReplicaSets(t *testing.T) {
	h := newHarnessWith(t, controlplane.Config{})
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	var first string
	eventually(t, func() string {
		out := h.ok("describe", "deploy", "web").out
		m := replicaSetLines.FindStringSubmatch(out)
		if m == nil || m[1] != "<none>" || !regexp.MustCompile(`^web-\w+ \(3/3 replicas created\)$`).MatchString(m[2]) {
			return "describe deploy web does not show OldReplicaSets <none> and a NewReplicaSet with 3/3 replicas created:\n" + out
		}
		first, _, _ = strings.Cut(m[2], " ")
		return ""
	})
	h.ok("set", "image", "deploy/web", "web=nginx:1.26")
	eventually(t, func() string {
		out := h.ok("describe", "deploy", "web").out
		m := replicaSetLines.FindStringSubmatch(out)
		if m == nil || !strings.HasPrefix(m[1], first+" (") || strings.HasPrefix(m[2], first+" ") || !strings.HasPrefix(m[2], "web-") {
			return "after set image, describe deploy web does not show " + first + " as old and another ReplicaSet as new:\n" + out
		}
		return ""
	})
}

func TestDescribeNodeShowsPodsAllocatedResourcesAndNewestHeartbeat(t *testing.T) {
	h := newHarness(t)
	controlplanetest.RegisterNode(t, h.srv.Log(), "node-1", "2")
	pod := func(name, resources string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  nodeName: node-1\n  containers:\n  - name: c\n    image: busybox:1.36\n" + resources
	}
	h.ok("apply", "-f", h.file("a.yaml", pod("a", "    resources:\n      requests: {cpu: 500m, memory: 1Gi}\n      limits: {cpu: '1', memory: 2Gi}\n")))
	h.ok("apply", "-f", h.file("b.yaml", pod("b", "")))

	out := h.ok("describe", "node", "node-1").out
	for _, want := range []string{
		"Non-terminated Pods:          (2 in total)\n",
		"  default                     a       500m (25%)    1 (50%)     1Gi (12%)        2Gi (25%)      ",
		"  default                     b       0 (0%)        0 (0%)      0 (0%)           0 (0%)         ",
		"  cpu                500m (25%)  1 (50%)\n",
		"  memory             1Gi (12%)   2Gi (25%)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe node lacks %q:\n%s", want, out)
		}
	}

	ctx := context.Background()
	kv, err := h.srv.Log().JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: api.HeartbeatBucket,
		Description: "wake: node liveness", History: 1, TTL: time.Minute, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	beat := func() time.Time {
		if _, err := kv.Put(ctx, "node-1", []byte("1")); err != nil {
			t.Fatal(err)
		}
		e, err := kv.Get(ctx, "node-1")
		if err != nil {
			t.Fatal(err)
		}
		return e.Created().Truncate(time.Second)
	}
	// Only the node's own events count: the controllers may still be reacting
	// to the pods applied above.
	nodeRef := events.Ref{Kind: "Node", Name: "node-1"}
	before := len(h.subjectEvents(nodeRef))
	for i := 0; i < 2; i++ {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond) // the field has whole seconds
		}
		at := beat()
		want := at.Local().Format(time.RFC1123Z)
		if out := h.ok("describe", "node", "node-1").out; !regexp.MustCompile(`(?m)^  Ready +True +` + regexp.QuoteMeta(want) + ` `).MatchString(out) {
			t.Errorf("heartbeat %d at %s: describe node shows:\n%s", i+1, want, out)
		}
		conds, _ := field(h.getObject("node", "node-1"), "status.conditions").([]any)
		if len(conds) != 1 || conds[0].(map[string]any)["lastHeartbeatTime"] != at.UTC().Format(time.RFC3339) {
			t.Errorf("heartbeat %d at %s: get node -o yaml shows conditions %v", i+1, at.UTC().Format(time.RFC3339), conds)
		}
	}
	if after := len(h.subjectEvents(nodeRef)); after != before {
		t.Errorf("heartbeats appended %d events to the node, want none", after-before)
	}
}
