package controlplane_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
)

// TestEveryServiceAnswersTheInstantStartReturns starts fresh control planes one
// after another, as fast as it can, and the instant Start returns asks every
// service from a connection of its own: the query service (get, list), the
// secrets service (an apply of a Secret is sealed), projection administration,
// and the web endpoints (health, metrics, the dashboard and its API). Every request of every start is answered.
func TestEveryServiceAnswersTheInstantStartReturns(t *testing.T) {
	const starts = 20
	nsKind, _ := object.ByKind("Namespace")
	cmKind, _ := object.ByKind("ConfigMap")
	secKind, _ := object.ByKind("Secret")
	secret, err := object.Decode("token.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: default}\nstringData: {token: s3cr3t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range starts {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: t.TempDir(), Port: -1, Logger: discard})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Query.Get(ctx, nsKind, "", "default"); err != nil {
			t.Errorf("start %d: get namespace default: %v", i, err)
		}
		if _, _, err := c.Query.List(ctx, cmKind, "default", ""); err != nil {
			t.Errorf("start %d: list configmaps: %v", i, err)
		}
		doc := secret[0]
		if _, err := c.Write(ctx, &doc, client.ModeApply); err != nil {
			t.Errorf("start %d: apply a Secret: %v", i, err)
		} else if _, err := c.Query.Get(ctx, secKind, "default", "token"); err != nil {
			t.Errorf("start %d: get the applied Secret: %v", i, err)
		}
		var st []projections.Status
		if msg, err := c.NC.RequestWithContext(ctx, controlplane.SubjectProjectionStatus, nil); err != nil {
			t.Errorf("start %d: projection status: %v", i, err)
		} else if json.Unmarshal(msg.Data, &st) != nil || len(st) != len(srv.Runners()) {
			t.Errorf("start %d: projection status = %s, want %d projections", i, msg.Data, len(srv.Runners()))
		}
		for _, path := range []string{"/healthz", "/metrics", "/", "/api/tables/namespaces"} {
			if resp, err := http.Get(srv.HTTPURL() + path); err != nil {
				t.Errorf("start %d: GET %s: %v", i, path, err)
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("start %d: GET %s = %s", i, path, resp.Status)
				}
			}
		}
		c.Close()
		srv.Shutdown()
		cancel()
		if t.Failed() {
			return
		}
	}
}
