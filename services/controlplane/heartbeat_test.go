package controlplane_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	corev1 "k8s.io/api/core/v1"
)

// TestNodeLifecycleOutlivesItsHeartbeatBucket deletes the heartbeat bucket
// under a running server whose node keeps beating (as an agent does, its puts
// failing while the bucket is gone). The node lifecycle watches again, judges
// no node while it cannot see heartbeats, and the node stays Ready: the lost
// bucket neither spins the controller nor evicts the cluster.
func TestNodeLifecycleOutlivesItsHeartbeatBucket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	grace := 6 * time.Second // generous: a loaded machine delays the watch and the first heartbeat into a re-created bucket (4 s failed once in a full CI run)
	srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: t.TempDir(), Port: -1, Logger: discard, HTTPAddr: "off", NodeGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	controlplanetest.RegisterNode(t, srv.Log(), "n1", "2")
	c := connect(t, srv)
	js := srv.Log().JetStream()

	beatCtx, stopBeats := context.WithCancel(ctx)
	beatsDone := make(chan struct{})
	go func() {
		defer close(beatsDone)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if kv, err := js.KeyValue(beatCtx, api.HeartbeatBucket); err == nil {
				_, _ = kv.Put(beatCtx, "n1", []byte(strconv.FormatInt(time.Now().UnixMilli(), 10)))
			}
			select {
			case <-beatCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { stopBeats(); <-beatsDone }()

	time.Sleep(grace / 2)
	if err := js.DeleteKeyValue(ctx, api.HeartbeatBucket); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * grace)
	for time.Now().Before(deadline) {
		if ready(t, c, "n1") != corev1.ConditionTrue {
			t.Fatalf("node n1 became NotReady after the heartbeat bucket was deleted, though it kept beating")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := js.KeyValue(ctx, api.HeartbeatBucket); err != nil {
		t.Fatalf("the heartbeat bucket was not created again: %v", err)
	}
	// Heartbeats stop for good: the node is judged again, and goes NotReady.
	stopBeats()
	<-beatsDone
	deadline = time.Now().Add(4 * grace)
	for ready(t, c, "n1") == corev1.ConditionTrue {
		if time.Now().After(deadline) {
			t.Fatal("node n1 stayed Ready though its heartbeats stopped")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ready is the status of node's Ready condition as the query service has it.
func ready(t *testing.T, c *client.Client, node string) corev1.ConditionStatus {
	t.Helper()
	k, _ := object.ByKind("Node")
	st, err := c.Query.Get(context.Background(), k, "", node)
	if err != nil {
		t.Fatal(err)
	}
	for _, cond := range st.Object.(*corev1.Node).Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status
		}
	}
	return ""
}
