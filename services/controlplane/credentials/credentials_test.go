package credentials

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestWrittenKeyIsTheOwnersAloneAndAStandardSeedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "admin.creds")
	k, err := LoadOrCreate(path, Admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
	again, err := LoadOrCreate(path, Admin)
	if err != nil || again.PublicKey() != k.PublicKey() {
		t.Errorf("second LoadOrCreate: %v, key %s, want the first key %s", err, again.PublicKey(), k.PublicKey())
	}
	// Any NATS client reads it as an nkey seed file.
	if _, err := nats.NkeyOptionFromSeed(path); err != nil {
		t.Errorf("nats.NkeyOptionFromSeed: %v", err)
	}
}

func TestKeyReadableByOthersIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.creds")
	if _, err := LoadOrCreate(path, Admin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, Admin)
	if err == nil || !strings.Contains(err.Error(), "0644") || !strings.Contains(err.Error(), "0600") {
		t.Errorf("loading a 0644 credential: %v, want a refusal naming the mode and 0600", err)
	}
}

func TestNoClientIdentityMayPublishDestructiveSubjects(t *testing.T) {
	for _, id := range []Identity{Admin, Node} {
		p := Permissions(id, "UKEY")
		for _, d := range Destructive {
			if id == Node && d == "$KV.>" {
				continue // its heartbeat; the allow list names that bucket alone
			}
			found := false
			for _, deny := range p.Publish.Deny {
				found = found || deny == d
			}
			if !found {
				t.Errorf("%s may publish %s", id, d)
			}
		}
		for _, allow := range p.Subscribe.Allow {
			if allow == ">" || allow == "_INBOX.>" || strings.HasPrefix(allow, "wake.secrets") {
				t.Errorf("%s may subscribe %s", id, allow)
			}
		}
	}
	if Permissions(Server, "UKEY") != nil {
		t.Error("the server's own identity is restricted")
	}
}
