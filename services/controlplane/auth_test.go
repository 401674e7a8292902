package controlplane_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/controlplane/credentials"
	"github.com/wake-run/wake/services/secrets"
	corev1 "k8s.io/api/core/v1"
)

// identity is a raw NATS connection signed in with one credential file, which
// records every permission the server refused it.
type identity struct {
	t       *testing.T
	nc      *nats.Conn
	js      jetstream.JetStream
	mu      sync.Mutex
	refusal []string
}

func signIn(t *testing.T, srv *controlplane.Server, credFile string) *identity {
	t.Helper()
	id := &identity{t: t}
	opts, err := credentials.Options(credFile)
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			id.mu.Lock()
			id.refusal = append(id.refusal, err.Error())
			id.mu.Unlock()
		}
	}))
	if id.nc, err = nats.Connect(srv.ClientURL(), opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(id.nc.Close)
	if id.js, err = jetstream.New(id.nc); err != nil {
		t.Fatal(err)
	}
	return id
}

// refused reports whether the server refused this identity's publish (op
// "Publish") or subscription (op "Subscription") on subject, waiting briefly
// for the server's word.
func (id *identity) refused(op, subject string) bool {
	want := op + ` to "` + subject + `"`
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		id.mu.Lock()
		for _, r := range id.refusal {
			if strings.Contains(r, want) {
				id.mu.Unlock()
				return true
			}
		}
		id.mu.Unlock()
	}
	return false
}

func short() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 1500*time.Millisecond)
}

func applySecret(t *testing.T, c *client.Client, name, value string) {
	t.Helper()
	controlplanetest.Apply(t, c, "apiVersion: v1\nkind: Secret\nmetadata: {name: "+name+"}\nstringData: {password: "+value+"}\n")
}

func secretValue(t *testing.T, c *client.Client, name string) string {
	t.Helper()
	k, _ := object.ByKind("Secret")
	st, err := c.Query.Get(context.Background(), k, "default", name)
	if err != nil {
		t.Fatalf("get secret %s: %v", name, err)
	}
	return string(st.Object.(*corev1.Secret).Data["password"])
}

func TestCredentialFilesAreTheirOwnersAlone(t *testing.T) {
	srv := startIn(t, t.TempDir())
	for _, f := range []string{srv.AdminCredentials(), srv.NodeCredentials()} {
		if filepath.Dir(f) != srv.DataDir() {
			t.Errorf("credential %s is not in the data directory %s", f, srv.DataDir())
		}
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", f, fi.Mode().Perm())
		}
	}
}

func TestClientWithoutTheCredentialIsRefusedAndToldWhereItIs(t *testing.T) {
	srv := startIn(t, t.TempDir())
	_, err := client.Connect(srv.ClientURL(), "")
	var refused *client.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("connect without credentials: %v, want a refusal", err)
	}
	for _, want := range []string{srv.ClientURL(), "refused the connection: no credentials", "admin.creds", "--credentials", "WAKE_CREDENTIALS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("refusal %q is more than one line", err)
	}
	// A key the server never issued is refused too, naming the file.
	stranger, err := credentials.Generate(credentials.Admin)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "stranger.creds")
	if err := stranger.Write(file, -1, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Connect(srv.ClientURL(), file); !errors.As(err, &refused) || !strings.Contains(err.Error(), "does not know the credential in "+file) {
		t.Errorf("connect with an unknown key: %v, want a refusal naming %s", err, file)
	}
	// Without a credential nothing at all reaches the bus: no append, no read,
	// no subscription on ">", no stream deletion.
	if _, err := nats.Connect(srv.ClientURL()); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("raw NATS connection without credentials: %v, want %v", err, nats.ErrAuthorization)
	}
	if _, err := srv.Log().LastSeq(context.Background()); err != nil {
		t.Errorf("the log after the attempts: %v", err)
	}
}

// The admin may append and read, but no client identity may delete, purge or
// reconfigure the stream of record, the key bucket of Secrets or the snapshot
// store, nor delete a message.
func TestAdminCannotDestroyTheLogOrAnyBucket(t *testing.T) {
	srv := startIn(t, t.TempDir())
	c := connect(t, srv)
	applySecret(t, c, "db", "s3cr3t")
	ctx := context.Background()
	before, err := srv.Log().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keysBefore := streamMsgs(t, srv, "KV_"+secrets.Bucket)
	if keysBefore == 0 {
		t.Fatalf("the key bucket holds no data key after a Secret was applied")
	}

	admin := signIn(t, srv, srv.AdminCredentials())
	attempts := []struct {
		name, subject string
		do            func(ctx context.Context) error
	}{
		{"delete the stream", "$JS.API.STREAM.DELETE.WAKE", func(ctx context.Context) error { return admin.js.DeleteStream(ctx, "WAKE") }},
		{"purge the stream", "$JS.API.STREAM.PURGE.WAKE", func(ctx context.Context) error {
			_, err := admin.nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE.WAKE", nil)
			return err
		}},
		{"reconfigure the stream", "$JS.API.STREAM.UPDATE.WAKE", func(ctx context.Context) error {
			_, err := admin.js.UpdateStream(ctx, jetstream.StreamConfig{Name: "WAKE", Subjects: []string{"ev.>"}, MaxMsgs: 1})
			return err
		}},
		{"create a stream over the events", "$JS.API.STREAM.CREATE.SHADOW", func(ctx context.Context) error {
			_, err := admin.js.CreateStream(ctx, jetstream.StreamConfig{Name: "SHADOW", Subjects: []string{"wake.>"}})
			return err
		}},
		{"delete an event", "$JS.API.STREAM.MSG.DELETE.WAKE", func(ctx context.Context) error {
			_, err := admin.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.DELETE.WAKE", []byte(`{"seq":1}`))
			return err
		}},
		{"delete the key bucket", "$JS.API.STREAM.DELETE.KV_" + secrets.Bucket, func(ctx context.Context) error {
			return admin.js.DeleteKeyValue(ctx, secrets.Bucket)
		}},
		{"purge the key bucket", "$JS.API.STREAM.PURGE.KV_" + secrets.Bucket, func(ctx context.Context) error {
			_, err := admin.nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE.KV_"+secrets.Bucket, nil)
			return err
		}},
		{"purge a data key", "$KV." + secrets.Bucket + ".anykey", func(ctx context.Context) error {
			m := nats.NewMsg("$KV." + secrets.Bucket + ".anykey")
			m.Header.Set("KV-Operation", "PURGE")
			_, err := admin.js.PublishMsg(ctx, m)
			return err
		}},
		{"delete the snapshot store", "$JS.API.STREAM.DELETE.OBJ_" + projections.SnapshotBucket, func(ctx context.Context) error {
			return admin.js.DeleteObjectStore(ctx, projections.SnapshotBucket)
		}},
	}
	for _, a := range attempts {
		actx, cancel := short()
		err := a.do(actx)
		cancel()
		if err == nil {
			t.Errorf("admin could %s", a.name)
		}
		if !admin.refused("Publish", a.subject) {
			t.Errorf("%s: the server did not refuse %s (error %v)", a.name, a.subject, err)
		}
	}

	after, err := srv.Log().LastSeq(ctx)
	if err != nil {
		t.Fatalf("the stream of record after the attempts: %v", err)
	}
	if after < before {
		t.Errorf("the stream went from %d to %d events", before, after)
	}
	if got := streamMsgs(t, srv, "KV_"+secrets.Bucket); got != keysBefore {
		t.Errorf("the key bucket went from %d to %d messages", keysBefore, got)
	}
	if got := secretValue(t, c, "db"); got != "s3cr3t" {
		t.Errorf("the Secret reads %q after the attempts, want s3cr3t", got)
	}
	// The same identity still appends and reads: it was refused, not broken.
	applySecret(t, c, "db2", "other")
	if got := secretValue(t, c, "db2"); got != "other" {
		t.Errorf("a Secret applied after the attempts reads %q", got)
	}
}

func streamMsgs(t *testing.T, srv *controlplane.Server, name string) uint64 {
	t.Helper()
	js, err := jetstream.New(srv.Conn())
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().State.Msgs
}

// Secret plaintext travels only to the secrets service (seal requests) and back
// into the requester's own inbox (query replies): no other identity may
// subscribe where it could see them.
func TestNoIdentityButTheServerSeesSecretPlaintext(t *testing.T) {
	srv := startIn(t, t.TempDir())
	adminKey, err := credentials.Load(srv.AdminCredentials(), credentials.Admin)
	if err != nil {
		t.Fatal(err)
	}
	admin := signIn(t, srv, srv.AdminCredentials())
	node := signIn(t, srv, srv.NodeCredentials())
	var seen []*nats.Subscription
	for _, s := range []struct {
		who     *identity
		subject string
	}{
		{admin, ">"}, {admin, "wake.secrets.>"}, {admin, secrets.SubjectSeal}, {admin, "_INBOX.>"}, {admin, "wake.query.>"},
		{node, ">"}, {node, secrets.SubjectSeal}, {node, "_INBOX.>"}, {node, credentials.InboxPrefix(adminKey.PublicKey()) + ".>"},
	} {
		sub, err := s.who.nc.SubscribeSync(s.subject)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, sub)
		if err := s.who.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if !s.who.refused("Subscription", s.subject) {
			t.Errorf("the server let an identity subscribe %s", s.subject)
		}
	}
	c := connect(t, srv)
	applySecret(t, c, "db", "pl41ntext-value")
	if got := secretValue(t, c, "db"); got != "pl41ntext-value" {
		t.Fatalf("secret reads %q", got)
	}
	for _, sub := range seen {
		for {
			m, err := sub.NextMsg(100 * time.Millisecond)
			if err != nil {
				break
			}
			if strings.Contains(string(m.Data), "pl41ntext") || strings.Contains(string(m.Data), "cGw0MW50ZXh0") {
				t.Errorf("a subscription on %s saw the plaintext on %s", sub.Subject, m.Subject)
			}
		}
	}
}

// A node agent's identity may append its events, read the log and beat its
// heartbeat, but not touch other buckets or the stream's configuration.
func TestNodeIdentityAppendsAndBeatsButCannotDestroy(t *testing.T) {
	srv := startIn(t, t.TempDir())
	node := signIn(t, srv, srv.NodeCredentials())
	log, err := events.NewLog(node.nc, "")
	if err != nil {
		t.Fatal(err)
	}
	controlplanetest.RegisterNode(t, log, "n1", "2")
	ctx := context.Background()
	if _, err := log.LastSeq(ctx); err != nil {
		t.Errorf("a node cannot read the log: %v", err)
	}
	var kv jetstream.KeyValue
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if kv, err = node.js.KeyValue(ctx, api.HeartbeatBucket); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("heartbeat bucket: %v", err)
	}
	if _, err := kv.Put(ctx, "n1", []byte("1")); err != nil {
		t.Errorf("a node cannot beat its heartbeat: %v", err)
	}
	if api.HeartbeatBucket != "WAKE_NODE_HEARTBEATS" {
		t.Errorf("the node permissions name the heartbeat bucket WAKE_NODE_HEARTBEATS, the agent writes %s", api.HeartbeatBucket)
	}
	// A log stream's keep-alive travels from the reader's inbox to the node.
	admin := signIn(t, srv, srv.AdminCredentials())
	alive := admin.nc.NewRespInbox() + ".alive"
	sub, err := node.nc.SubscribeSync(alive)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := admin.nc.Publish(alive, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(3 * time.Second); err != nil {
		t.Errorf("the node did not receive the keep-alive on %s: %v", alive, err)
	}
	for subject, do := range map[string]func(ctx context.Context) error{
		"$JS.API.STREAM.DELETE.WAKE": func(ctx context.Context) error { return node.js.DeleteStream(ctx, "WAKE") },
		"$JS.API.STREAM.UPDATE.KV_" + api.HeartbeatBucket: func(ctx context.Context) error {
			_, err := node.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: api.HeartbeatBucket})
			return err
		},
		"$KV." + secrets.Bucket + ".x": func(ctx context.Context) error {
			_, err := node.js.Publish(ctx, "$KV."+secrets.Bucket+".x", nil)
			return err
		},
		secrets.SubjectSeal: func(ctx context.Context) error {
			_, err := node.nc.RequestWithContext(ctx, secrets.SubjectSeal, []byte("{}"))
			return err
		},
	} {
		actx, cancel := short()
		err := do(actx)
		cancel()
		if err == nil || !node.refused("Publish", subject) {
			t.Errorf("a node published %s: err %v", subject, err)
		}
	}
}

func TestInsecureNoAuthServesAnyoneAndWritesNoCredential(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: dir, Port: -1, Logger: discard, HTTPAddr: "off", InsecureNoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if srv.AdminCredentials() != "" || srv.NodeCredentials() != "" {
		t.Errorf("insecure server names credentials %q %q", srv.AdminCredentials(), srv.NodeCredentials())
	}
	if _, err := os.Stat(filepath.Join(dir, credentials.AdminFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("insecure server wrote %s: %v", credentials.AdminFile, err)
	}
	c, err := client.Connect(srv.ClientURL(), "")
	if err != nil {
		t.Fatalf("client without credentials on an insecure server: %v", err)
	}
	c.Close()
}

// wake up runs its agent in process, signed in as a node, not as the server.
func TestInProcessAgentConnectionIsANode(t *testing.T) {
	srv := startIn(t, t.TempDir())
	refusals := make(chan error, 8)
	nc, err := srv.ConnectInProcess(srv.NodeCredentials(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		refusals <- err
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	log, err := events.NewLog(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	controlplanetest.RegisterNode(t, log, "local", "2")
	if _, err := nc.SubscribeSync(secrets.SubjectSeal); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	select {
	case err := <-refusals:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), secrets.SubjectSeal) {
			t.Errorf("subscribing %s: %v, want a permissions violation", secrets.SubjectSeal, err)
		}
	case <-time.After(3 * time.Second):
		t.Errorf("the in-process agent connection may subscribe %s: it is not a node", secrets.SubjectSeal)
	}
}
