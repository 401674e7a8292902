package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
)

func start(t *testing.T) (*controlplane.Server, *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: t.TempDir(), Port: -1, NoWorkloadControllers: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return srv, c
}

func docs(t *testing.T, manifest string) []object.Document {
	t.Helper()
	ds, err := object.Decode("test.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetNamespace(ds, "", false); err != nil {
		t.Fatal(err)
	}
	return ds
}

func write(t *testing.T, c *client.Client, manifest string) {
	t.Helper()
	for _, d := range docs(t, manifest) {
		if _, err := c.Write(context.Background(), &d, client.ModeApply); err != nil {
			t.Fatal(err)
		}
	}
}

func cm(name, labels, data string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, labels: {%s}}\ndata: {v: %q}\n", name, labels, data)
}

func TestConnectToAnUnreachableServer(t *testing.T) {
	start := time.Now()
	c, err := client.Connect("nats://127.0.0.1:1", "")
	if err == nil {
		c.Close()
		t.Fatal("connected to nothing")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %s to report an unreachable server", elapsed)
	}
	if !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Errorf("error %q does not name the address", err)
	}
	if _, err := client.Connect("nats://exa mple:4222", ""); err == nil {
		t.Error("a malformed URL connected")
	}
}
