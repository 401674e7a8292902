// Package secrets keeps Secret payloads out of the log in clear text. Each Secret
// gets its own data key; its data and its last applied configuration are sealed
// (AES-256-GCM) with that key before they are appended, and opened by the query
// service when a client reads them. Deleting the Secret destroys its data key
// (crypto-shredding), so the immutable log no longer holds anything readable.
//
// Data keys live in a JetStream key-value bucket, wrapped by a key-encryption key
// that never leaves the server's data directory.
package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
)

// Bucket is the key-value bucket holding wrapped data keys, one per Secret uid.
const Bucket = "WAKE_SECRET_KEYS"

// SealedAnnotation marks a Secret whose data values are sealed.
const SealedAnnotation = object.SealedAnnotation

const sealedVersion = "v1"

// ErrShredded is returned when a Secret's data key is gone: destroyed when the
// Secret was deleted, or lost from the key bucket.
var ErrShredded = errors.New("its data key is gone from " + Bucket + " (destroyed when the secret was deleted, or lost)")

// Keyring seals and opens Secret payloads. It is safe for concurrent use.
type Keyring struct {
	kv  jetstream.KeyValue
	kek cipher.AEAD

	mu    sync.Mutex
	cache map[string]*dataKey
}

// dataKey seals deterministically: the nonce is an HMAC of the value and its
// place, so an unchanged value seals to unchanged bytes (an update that leaves a
// Secret's data alone does not look like a data change, which immutable Secrets
// rely on). The HMAC key is derived from the data key, never stored.
type dataKey struct {
	aead cipher.AEAD
	mac  []byte
}

func newDataKey(raw []byte) (*dataKey, error) {
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	h := hmac.New(sha256.New, raw)
	h.Write([]byte("wake secret nonce key"))
	return &dataKey{aead: aead, mac: h.Sum(nil)}, nil
}

func (d *dataKey) seal(plain, ad []byte) []byte {
	h := hmac.New(sha256.New, d.mac)
	h.Write(ad)
	h.Write([]byte{0})
	h.Write(plain)
	nonce := h.Sum(nil)[:d.aead.NonceSize()]
	return d.aead.Seal(nonce, nonce, plain, ad)
}

// LoadKEK reads the key-encryption key from dir/kek, creating it (32 random bytes,
// mode 0600) on first use.
func LoadKEK(dir string) ([]byte, error) {
	path := filepath.Join(dir, "kek")
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != 32 {
			return nil, fmt.Errorf("key-encryption key %s: want 32 bytes, found %d", path, len(key))
		}
		return key, nil
	}
	if !os.IsNotExist(err) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("write key-encryption key: %w", err)
	}
	return key, nil
}

// NewKeyring creates (idempotently) the data-key bucket and returns a keyring that
// wraps data keys with kek.
func NewKeyring(ctx context.Context, js jetstream.JetStream, kek []byte, replicas int) (*Keyring, error) {
	if replicas == 0 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "wake: wrapped data keys of Secrets", History: 1,
		Storage: jetstream.FileStorage, Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("secret key bucket: %w", err)
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	return &Keyring{kv: kv, kek: aead, cache: map[string]*dataKey{}}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(aead cipher.AEAD, plain, ad []byte) []byte {
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // the system's randomness source failed
	}
	return aead.Seal(nonce, nonce, plain, ad)
}

func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	return aead.Open(nil, sealed[:n], sealed[n:], ad)
}

// key returns the data key of uid, creating it when create is set.
func (k *Keyring) key(ctx context.Context, uid string, create bool) (*dataKey, error) {
	k.mu.Lock()
	dk, ok := k.cache[uid]
	k.mu.Unlock()
	if ok {
		return dk, nil
	}
	entry, err := k.kv.Get(ctx, uid)
	var raw []byte
	switch {
	case err == nil:
		if raw, err = open(k.kek, entry.Value(), []byte(uid)); err != nil {
			return nil, fmt.Errorf("unwrap data key of %s: %w", uid, err)
		}
	case errors.Is(err, jetstream.ErrKeyNotFound) && create:
		raw = make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		if _, err := k.kv.Create(ctx, uid, seal(k.kek, raw, []byte(uid))); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				return k.key(ctx, uid, false)
			}
			return nil, fmt.Errorf("store data key of %s: %w", uid, err)
		}
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, ErrShredded
	default:
		return nil, fmt.Errorf("data key of %s: %w", uid, err)
	}
	if dk, err = newDataKey(raw); err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.cache[uid] = dk
	k.mu.Unlock()
	return dk, nil
}

// Shred destroys uid's data key. It is idempotent.
func (k *Keyring) Shred(ctx context.Context, uid string) error {
	k.mu.Lock()
	delete(k.cache, uid)
	k.mu.Unlock()
	if err := k.kv.Purge(ctx, uid); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("shred data key of %s: %w", uid, err)
	}
	return nil
}

type sealedApplied struct {
	Sealed []byte `json:"wakeSealed"`
}

// Seal returns a copy of s with every data value sealed (and stringData folded
// into data), and the applied configuration sealed as a whole. s must have a uid.
func (k *Keyring) Seal(ctx context.Context, s *corev1.Secret, applied json.RawMessage) (*corev1.Secret, json.RawMessage, error) {
	uid := string(s.UID)
	if uid == "" {
		return nil, nil, errors.New("seal: secret has no uid")
	}
	for _, a := range []string{SealedAnnotation, object.UnreadableAnnotation} {
		if _, set := s.Annotations[a]; set {
			return nil, nil, fmt.Errorf("seal: annotation %s is reserved for the server", a)
		}
	}
	dk, err := k.key(ctx, uid, true)
	if err != nil {
		return nil, nil, err
	}
	out := s.DeepCopy()
	data := map[string][]byte{}
	for key, v := range s.Data {
		data[key] = dk.seal(v, []byte(uid+"/"+key))
	}
	for key, v := range s.StringData {
		data[key] = dk.seal([]byte(v), []byte(uid+"/"+key))
	}
	out.Data, out.StringData = data, nil
	if len(data) == 0 {
		out.Data = nil
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[SealedAnnotation] = sealedVersion
	var sa json.RawMessage
	if len(applied) > 0 {
		sa, err = json.Marshal(sealedApplied{Sealed: dk.seal(applied, []byte(uid+"/applied"))})
		if err != nil {
			return nil, nil, err
		}
	}
	return out, sa, nil
}

// Unreadable returns what a list shows of a sealed Secret that cannot be opened
// (err says why): the Secret without its data, marked with
// object.UnreadableAnnotation. Nothing sealed is returned.
func Unreadable(s *corev1.Secret, err error) *corev1.Secret {
	out := s.DeepCopy()
	out.Data, out.StringData = nil, nil
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	delete(out.Annotations, SealedAnnotation)
	out.Annotations[object.UnreadableAnnotation] = err.Error()
	return out
}

// Open reverses Seal. A Secret without the sealed annotation is returned as is.
func (k *Keyring) Open(ctx context.Context, s *corev1.Secret, applied json.RawMessage) (*corev1.Secret, json.RawMessage, error) {
	if s.Annotations[SealedAnnotation] == "" {
		return s, applied, nil
	}
	uid := string(s.UID)
	dk, err := k.key(ctx, uid, false)
	if err != nil {
		return nil, nil, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	out := s.DeepCopy()
	delete(out.Annotations, SealedAnnotation)
	if len(out.Annotations) == 0 {
		out.Annotations = nil
	}
	for key, v := range s.Data {
		plain, err := open(dk.aead, v, []byte(uid+"/"+key))
		if err != nil {
			return nil, nil, fmt.Errorf("secret %s/%s: open %s: %w", s.Namespace, s.Name, key, err)
		}
		out.Data[key] = plain
	}
	var sa sealedApplied
	if len(applied) > 0 && json.Unmarshal(applied, &sa) == nil && sa.Sealed != nil {
		if applied, err = open(dk.aead, sa.Sealed, []byte(uid+"/applied")); err != nil {
			return nil, nil, fmt.Errorf("secret %s/%s: open applied configuration: %w", s.Namespace, s.Name, err)
		}
	}
	return out, applied, nil
}
