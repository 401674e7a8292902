package cli

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/secrets"
)

// TestLostSecretKeyFailsThatSecretOnly: purging one Secret's data key from the
// key bucket makes that Secret unreadable, named and marked; the list of every
// other Secret still reads.
func TestLostSecretKeyFailsThatSecretOnly(t *testing.T) {
	dataDir := t.TempDir()
	start := func() *controlplane.Server {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: dataDir, Port: -1, NoWorkloadControllers: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
		return srv
	}
	h := &harness{t: t, srv: start(), dir: t.TempDir()}
	h.ok("apply", "-f", h.file("s.yaml", `apiVersion: v1
kind: Secret
metadata: {name: kept}
stringData: {password: kept-value}
---
apiVersion: v1
kind: Secret
metadata: {name: lost}
stringData: {password: lost-value, user: bob}
`))
	uid := field(h.getObject("secret", "lost"), "metadata.uid").(string)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := h.srv.Log().JetStream().KeyValue(ctx, secrets.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, uid); err != nil {
		t.Fatal(err)
	}
	// A fresh server: no data key is remembered from the writes.
	h.srv.Shutdown()
	h.srv = start()

	r := h.ok("get", "secrets")
	rows := lines(r.out)
	if len(rows) != 3 || strings.Join(rows[1][:3], " ") != "kept Opaque 1" || strings.Join(rows[2][:3], " ") != "lost Opaque <unreadable>" {
		t.Errorf("get secrets =\n%s", r.out)
	}
	if !strings.Contains(r.errOut, "secrets default/lost cannot be read") || !strings.Contains(r.errOut, secrets.Bucket) {
		t.Errorf("get secrets warned %q, want the lost secret named with its bucket", r.errOut)
	}
	list := h.ok("get", "secrets", "-o", "yaml").out
	if strings.Contains(list, "wake.io/sealed") || !strings.Contains(list, object.UnreadableAnnotation) || strings.Count(list, "password:") != 1 {
		t.Errorf("get secrets -o yaml: want kept with its data, lost marked without data:\n%s", list)
	}
	if got := field(h.getObject("secret", "kept"), "data.password"); got != "a2VwdC12YWx1ZQ==" {
		t.Errorf("kept's password = %v, want it readable", got)
	}
	if r := h.fails("get", "secret", "lost"); !strings.Contains(r.errLine, "default/lost") || !strings.Contains(r.errLine, "data key") {
		t.Errorf("get secret lost: %q, want an error naming it and its key", r.errLine)
	}
}
