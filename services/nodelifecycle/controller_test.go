package nodelifecycle_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/nodelifecycle"
)

// Node lifecycle on the shared loop's ticked mode, over real JetStream: a node
// that stops beating is marked not ready after the grace period, one that beats
// is left alone.
func TestSilentNodeIsMarkedAndBeatingNodeIsNot(t *testing.T) {
	log := eventstest.Start(t).Log
	controlplanetest.RegisterNode(t, log, "alive", "4")
	controlplanetest.RegisterNode(t, log, "silent", "4")
	ctl := nodelifecycle.New(log, slog.New(slog.NewTextHandler(io.Discard, nil)),
		nodelifecycle.WithGrace(time.Second), nodelifecycle.WithTick(50*time.Millisecond))
	if hooks := ctl.Hooks(); len(hooks) != 0 {
		t.Fatalf("node lifecycle has %d runner hooks, want none: its rounds come with the tick", len(hooks))
	}
	controlplanetest.RunController(t, log, nodelifecycle.Projection(), ctl)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var kv jetstream.KeyValue
	eventstest.Eventually(t, "the heartbeat bucket", func() bool {
		var err error
		kv, err = log.JetStream().KeyValue(ctx, api.HeartbeatBucket)
		return err == nil
	})
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		for ctx.Err() == nil {
			_, _ = kv.Put(ctx, "alive", []byte("beat"))
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	defer func() { cancel(); <-beating }()

	statuses := func(node string) int {
		n := 0
		for _, ev := range eventstest.ReadAll(t, log, events.Ref{Kind: "Node", Name: node}.Subject()) {
			if ev.Actor == nodelifecycle.Actor {
				n++
			}
		}
		return n
	}
	eventstest.Eventually(t, "node silent marked not ready", func() bool { return statuses("silent") == 1 })
	time.Sleep(500 * time.Millisecond)
	if n := statuses("alive"); n != 0 {
		t.Errorf("node alive, beating, got %d statuses from node lifecycle, want none", n)
	}
	if n := statuses("silent"); n != 1 {
		t.Errorf("node silent got %d statuses from node lifecycle, want one", n)
	}
}
