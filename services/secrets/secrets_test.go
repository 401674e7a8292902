package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/secrets"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func keyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	srv := eventstest.Start(t)
	kek, err := secrets.LoadKEK(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k, err := secrets.NewKeyring(context.Background(), srv.Log.JetStream(), kek, 1)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func secret(uid string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", UID: types.UID("u-" + uid)}}
	s.StringData = data
	return s
}

func TestSealOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	k := keyring(t)
	in := secret("1", map[string]string{"password": "hunter2", "user": "admin"})
	applied := json.RawMessage(`{"stringData":{"password":"hunter2"}}`)
	sealed, sealedApplied, err := k.Seal(ctx, in, applied)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(sealed)
	if bytes.Contains(raw, []byte("hunter2")) || bytes.Contains(sealedApplied, []byte("hunter2")) {
		t.Fatalf("sealed form holds the clear text: %s %s", raw, sealedApplied)
	}
	if sealed.StringData != nil || sealed.Annotations[secrets.SealedAnnotation] == "" {
		t.Fatalf("sealed secret: stringData %v, annotations %v", sealed.StringData, sealed.Annotations)
	}
	again, _, err := k.Seal(ctx, in, applied)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Data["password"], sealed.Data["password"]) {
		t.Fatal("sealing the same value twice must give the same bytes (immutable secrets rely on it)")
	}
	opened, openedApplied, err := k.Open(ctx, sealed, sealedApplied)
	if err != nil {
		t.Fatal(err)
	}
	if string(opened.Data["password"]) != "hunter2" || string(opened.Data["user"]) != "admin" {
		t.Fatalf("opened data %q", opened.Data)
	}
	if string(openedApplied) != string(applied) {
		t.Fatalf("opened applied %s", openedApplied)
	}
	if _, ok := opened.Annotations[secrets.SealedAnnotation]; ok {
		t.Fatal("opened secret still carries the sealed annotation")
	}
	// A value moved to another key does not open: the key name is authenticated.
	tampered := sealed.DeepCopy()
	tampered.Data["user"] = sealed.Data["password"]
	if _, _, err := k.Open(ctx, tampered, nil); err == nil {
		t.Fatal("a sealed value moved to another key opened")
	}
}

func TestShredDestroysTheKey(t *testing.T) {
	ctx := context.Background()
	k := keyring(t)
	sealed, _, err := k.Seal(ctx, secret("2", map[string]string{"token": "abc"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Shred(ctx, string(sealed.UID)); err != nil {
		t.Fatal(err)
	}
	if err := k.Shred(ctx, string(sealed.UID)); err != nil {
		t.Fatalf("shred is not idempotent: %v", err)
	}
	if _, _, err := k.Open(ctx, sealed, nil); !errors.Is(err, secrets.ErrShredded) {
		t.Fatalf("open after shred: %v, want ErrShredded", err)
	}
}

func TestReservedAnnotationRefused(t *testing.T) {
	k := keyring(t)
	for _, a := range []string{secrets.SealedAnnotation, object.UnreadableAnnotation} {
		s := secret("3", map[string]string{"a": "b"})
		s.Annotations = map[string]string{a: ""}
		if _, _, err := k.Seal(context.Background(), s, nil); err == nil || !strings.Contains(err.Error(), a) {
			t.Errorf("a secret carrying annotation %s: seal error %v, want a refusal naming it", a, err)
		}
	}
}

// TestUnreadableKeepsNothingSealed: what a list shows of a Secret whose key is
// gone has no data, sealed or not, and says why.
func TestUnreadableKeepsNothingSealed(t *testing.T) {
	ctx := context.Background()
	k := keyring(t)
	s := secret("4", map[string]string{"password": "p"})
	s.Annotations = map[string]string{"team": "db"}
	sealed, _, err := k.Seal(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Shred(ctx, string(s.UID)); err != nil {
		t.Fatal(err)
	}
	_, _, oerr := k.Open(ctx, sealed, nil)
	if !errors.Is(oerr, secrets.ErrShredded) {
		t.Fatalf("open after shred: %v", oerr)
	}
	u := secrets.Unreadable(sealed, oerr)
	want := map[string]string{"team": "db", object.UnreadableAnnotation: oerr.Error()}
	if u.Data != nil || u.StringData != nil || !maps.Equal(u.Annotations, want) || u.Name != "db" || u.UID != s.UID {
		t.Errorf("Unreadable = %+v, want no data and annotations %v", u, want)
	}
	if sealed.Data == nil || sealed.Annotations[secrets.SealedAnnotation] == "" {
		t.Error("Unreadable modified the secret it was given")
	}
}

// End to end: apply a Secret through the client; the log never holds its value;
// get returns it; after delete the data key is gone.
func TestSecretLifecycleThroughTheLog(t *testing.T) {
	ctx := context.Background()
	srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: t.TempDir(), Port: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	docs, err := object.Decode("db.yaml", []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: s3cr3t-value}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetNamespace(docs, "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(ctx, &docs[0], client.ModeApply); err != nil {
		t.Fatal(err)
	}
	k, _ := object.ByKind("Secret")
	st, err := c.Query.Get(ctx, k, "default", "db")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(st.Object.(*corev1.Secret).Data["password"]); got != "s3cr3t-value" {
		t.Fatalf("get returned %q", got)
	}
	res, err := c.Write(ctx, &docs[0], client.ModeApply)
	if err != nil || res.Outcome != object.OutcomeUnchanged {
		t.Fatalf("re-apply: %v %v", res.Outcome, err)
	}
	assertLogClean(t, c.Log, "s3cr3t-value")
	if err := c.Delete(ctx, k, "default", "db"); err != nil {
		t.Fatal(err)
	}
	kv, err := c.Log.JetStream().KeyValue(ctx, secrets.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	uid := string(st.Object.GetUID())
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := kv.Get(ctx, uid); err != nil {
			break // purged: the data key is gone
		}
		if time.Now().After(deadline) {
			t.Fatal("the data key of a deleted secret still exists")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func assertLogClean(t *testing.T, log *events.Log, secret string) {
	t.Helper()
	cur, err := log.Read(context.Background(), events.ReadOptions{Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	n := 0
	for {
		rec, err := cur.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if bytes.Contains(rec.Data, []byte(secret)) {
			t.Fatalf("event %d on %s holds the secret in clear text", rec.Seq, rec.Subject)
		}
		if bytes.Contains(rec.Data, []byte("czNjcjN0LXZhbHVl")) {
			t.Fatalf("event %d holds the secret base64-encoded", rec.Seq)
		}
	}
	if n < 2 {
		t.Fatalf("read %d events, expected the namespace and the secret", n)
	}
}

// A Secret at the 1 MiB data limit stays valid once sealed: the fold validates the
// sealed form, and each sealed value is object.SealOverhead bytes longer.
func TestSealedSecretAtTheDataLimitIsValid(t *testing.T) {
	k := keyring(t)
	half := string(bytes.Repeat([]byte("s"), 1<<19))
	in := secret("big", map[string]string{"a": half, "b": half})
	sealed, _, err := k.Seal(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	for key, v := range sealed.Data {
		if len(v) != len(half)+object.SealOverhead {
			t.Errorf("sealed data[%s] is %d bytes, want %d plaintext + %d", key, len(v), len(half), object.SealOverhead)
		}
	}
	sealed.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	object.Default(sealed)
	if errs := object.Validate(sealed); len(errs) > 0 {
		t.Errorf("the sealed form of a Secret at the data limit is invalid: %v", errs.ToAggregate())
	}
}
