// Package credentials holds the identities that may use a wake server's NATS bus,
// their credential files, and what each may publish and subscribe.
//
// A credential is a NATS nkey: an ed25519 key pair whose seed stays in a file
// readable only by its owner. The server sends a nonce, the client signs it, and
// the server checks the signature against the public keys it knows: no secret
// crosses the wire (there is no TLS between machines yet), and the file is the
// standard NATS seed file that every NATS tool reads (`nats --nkey FILE`).
//
// There are three identities: the control plane's own (a key made at every
// start, never written), the admin (a person with every client right: apply,
// get, logs, exec, replay), and node agents. Each client identity receives
// replies only under its own inbox prefix, InboxPrefix(publicKey), so no identity
// can read another's replies; none may delete, purge or reconfigure a stream,
// bucket or object store (see Permissions).
package credentials

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Identity is a role on the bus. Permissions are granted per identity.
type Identity string

const (
	// Server is the control plane's internal identity: every right, including
	// creating, updating and deleting streams and buckets.
	Server Identity = "server"
	// Admin is a person administering the cluster: the CLI's identity.
	Admin Identity = "admin"
	// Node is a node agent's identity.
	Node Identity = "node"
)

// Files of the credentials in a server's data directory, each mode 0600.
const (
	AdminFile = "admin.creds"
	NodeFile  = "node.creds"
)

// EnvFile names the environment variable holding a credential file's path.
const EnvFile = "WAKE_CREDENTIALS"

// Key is an identity's nkey pair.
type Key struct {
	Identity Identity
	kp       nkeys.KeyPair
	public   string
}

// Generate makes a fresh key for id.
func Generate(id Identity) (*Key, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("new %s key: %w", id, err)
	}
	return newKey(id, kp)
}

func newKey(id Identity, kp nkeys.KeyPair) (*Key, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	return &Key{Identity: id, kp: kp, public: pub}, nil
}

// PublicKey is the key the server knows the identity by ("U...").
func (k *Key) PublicKey() string { return k.public }

// Options sign in with this key and receive replies under its own inbox prefix.
func (k *Key) Options() []nats.Option {
	return []nats.Option{nats.Nkey(k.public, k.kp.Sign), nats.CustomInboxPrefix(InboxPrefix(k.public))}
}

// InboxPrefix is where the holder of publicKey receives replies: only it may
// subscribe there.
func InboxPrefix(publicKey string) string { return "_INBOX." + publicKey }

// LoadOrCreate reads id's key from path, or, when path does not exist, makes one
// and writes it there readable only by the current user (mode 0600, its
// directory 0700 if created). A file that is readable by others is refused.
func LoadOrCreate(path string, id Identity) (*Key, error) {
	k, err := Load(path, id)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if k, err = Generate(id); err != nil {
		return nil, err
	}
	return k, k.Write(path, -1, -1)
}

// Load reads id's key from the seed file at path.
func Load(path string, id Identity) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credential file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("credential file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("credential file %s has mode %04o: others may read it; allowed is 0600 (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	kp, err := nkeys.ParseDecoratedUserNKey(data)
	if err != nil {
		return nil, fmt.Errorf("credential file %s: %v (it holds an nkey user seed, as written by wake up)", path, err)
	}
	return newKey(id, kp)
}

// Write stores the key's seed at path with mode 0600, atomically, owned by uid
// and gid (-1: the current user). Directories it creates get mode 0700 and the
// same owner.
func (k *Key) Write(path string, uid, gid int) error {
	seed, err := k.kp.Seed()
	if err != nil {
		return err
	}
	if err := mkdirOwned(filepath.Dir(path), uid, gid); err != nil {
		return fmt.Errorf("credential file %s: %w", path, err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# wake %s credential (NATS nkey user %s).\n", k.Identity, k.public)
	fmt.Fprintf(&b, "# Whoever reads this file is %s of the cluster: keep it mode 0600.\n", k.Identity)
	fmt.Fprintf(&b, "-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n", seed)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".creds-*")
	if err != nil {
		return fmt.Errorf("credential file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 before anything is written to it.
	if _, err = tmp.Write(b.Bytes()); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && (uid >= 0 || gid >= 0) {
		err = os.Chown(tmp.Name(), uid, gid)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("credential file %s: %w", path, err)
	}
	return nil
}

// mkdirOwned creates dir and its missing parents with mode 0700, owned by uid/gid.
func mkdirOwned(dir string, uid, gid int) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := mkdirOwned(filepath.Dir(dir), uid, gid); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if uid >= 0 || gid >= 0 {
		return os.Chown(dir, uid, gid)
	}
	return nil
}

// Options reads the credential file at path and returns the options that sign
// in with it: the nkey and the holder's own inbox prefix.
func Options(path string) ([]nats.Option, error) {
	k, err := Load(path, "")
	if err != nil {
		return nil, err
	}
	return k.Options(), nil
}

// UserFile is where the CLI of the user whose home is home looks for its
// credential: $XDG_CONFIG_HOME/wake/credentials when xdgConfig is set, else
// home/.config/wake/credentials (as kubectl looks in ~/.kube/config).
func UserFile(home, xdgConfig string) string {
	if xdgConfig != "" {
		return filepath.Join(xdgConfig, "wake", "credentials")
	}
	return filepath.Join(home, ".config", "wake", "credentials")
}

// CurrentUserFile is UserFile for the user running this process ("" when it has
// no home).
func CurrentUserFile() string {
	home, err := os.UserHomeDir()
	if err != nil || strings.TrimSpace(home) == "" {
		return ""
	}
	return UserFile(home, os.Getenv("XDG_CONFIG_HOME"))
}
