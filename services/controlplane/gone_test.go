package controlplane_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/agent"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
)

// shutdownGrace is how long a server and its node may take to stop, whatever
// the state of the log.
const shutdownGrace = 10 * time.Second

// TestServerStopsWhenItsStreamIsDeleted deletes the stream of record with the
// server's own rights under a running server and what a node agent reads (its
// projection and a cursor waiting for new events, on the server's in-process
// connection as in `wake up`). The server reports the lost stream on Failed, the
// node's readers end with the same error, commands say the stream is gone, and
// everything stops within the grace period leaving no goroutine (TestMain checks).
// Started again on the same data, the server refuses the log that was recreated
// empty instead of folding a second history onto the first.
func TestServerStopsWhenItsStreamIsDeleted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: dir, Port: -1, Logger: discard, HTTPAddr: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	// The node's readers, as the agent runs them.
	nodeLog, err := events.NewLog(srv.Conn(), "")
	if err != nil {
		t.Fatal(err)
	}
	runner, err := projections.Open(filepath.Join(t.TempDir(), "projection"), agent.Projection("n1"), nodeLog, projections.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	nodeCtx, stopNode := context.WithCancel(ctx)
	defer stopNode()
	runnerDone := make(chan error, 1)
	go func() { runnerDone <- runner.Run(nodeCtx) }()
	cur, err := nodeLog.Read(ctx, events.ReadOptions{From: 1})
	if err != nil {
		t.Fatal(err)
	}
	cursorDone := make(chan error, 1)
	go func() {
		defer cur.Close()
		for {
			if _, err := cur.Next(nodeCtx); err != nil {
				cursorDone <- err
				return
			}
		}
	}()
	c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(300 * time.Millisecond) // the node's readers wait for new events

	if err := srv.Log().JetStream().DeleteStream(ctx, events.DefaultStream); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(shutdownGrace)
	select {
	case err := <-srv.Failed():
		if !errors.Is(err, events.ErrStreamGone) || !strings.Contains(err.Error(), "stream of record WAKE does not exist") {
			t.Errorf("Failed: %v, want an error wrapping events.ErrStreamGone that names the stream", err)
		}
	case <-deadline:
		t.Fatalf("the server did not report its deleted stream within %s", shutdownGrace)
	}
	for what, done := range map[string]chan error{"the node's projection": runnerDone, "the node's cursor": cursorDone} {
		select {
		case err := <-done:
			if !errors.Is(err, events.ErrStreamGone) {
				t.Errorf("%s: %v, want an error wrapping events.ErrStreamGone", what, err)
			}
		case <-deadline:
			t.Fatalf("%s did not end within %s of the stream's deletion", what, shutdownGrace)
		}
	}

	// Commands against the server say what happened, promptly.
	docs, err := object.Decode("cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: default}\ndata: {a: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cmdCtx, cmdCancel := context.WithTimeout(ctx, 5*time.Second)
	defer cmdCancel()
	const gone = "the stream of record WAKE does not exist on the server"
	if _, err := c.Write(cmdCtx, &docs[0], client.ModeApply); err == nil || !strings.Contains(err.Error(), gone) {
		t.Errorf("apply after the stream's deletion: %v, want an error saying %q", err, gone)
	}
	nsKind, _ := object.ByKind("Namespace")
	if _, err := c.Query.Get(cmdCtx, nsKind, "", "default"); err == nil || !strings.Contains(err.Error(), gone) {
		t.Errorf("get after the stream's deletion: %v, want an error saying %q", err, gone)
	}
	if _, err := c.Log.Read(cmdCtx, events.ReadOptions{Bounded: true}); !errors.Is(err, events.ErrStreamGone) {
		t.Errorf("reading the events after the stream's deletion: %v, want an error wrapping events.ErrStreamGone", err)
	}

	// SIGINT: the node and the server stop within the grace period.
	stopped := make(chan struct{})
	go func() {
		stopNode()
		runner.Close()
		c.Close()
		srv.Shutdown()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-deadline:
		t.Fatalf("the server did not shut down within %s of its stream's deletion", shutdownGrace)
	}

	again, err := controlplane.Start(ctx, controlplane.Config{DataDir: dir, Port: -1, Logger: discard, HTTPAddr: "off"})
	if err == nil {
		again.Shutdown()
		t.Fatal("a restarted server accepted a stream of record recreated empty under its projections")
	}
	if !errors.Is(err, events.ErrStreamGone) || !strings.Contains(err.Error(), "restore the data directory") {
		t.Errorf("restart on the same data: %v, want an error wrapping events.ErrStreamGone that says to restore the data directory", err)
	}
}
