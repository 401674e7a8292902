package controlplane_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nats-io/nkeys"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
)

// The server refuses, from any client, a message larger than its max_payload, and
// the stream an event larger than MaxEventBytes; nothing of either is stored.
func TestServerRefusesOversizedEvents(t *testing.T) {
	srv := startIn(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := srv.Log().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	subject := events.Ref{Kind: "Deployment", Namespace: "default", Name: "big"}.Subject()

	// A raw client, speaking the protocol itself so no client library checks the
	// size first: the server advertises its max_payload and refuses a larger PUB.
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"max_payload":%d`, events.MaxPayload); !strings.Contains(info, want) {
		t.Fatalf("server INFO %s does not advertise %s", info, want)
	}
	// Signed in with the admin's nkey: the nonce of INFO, signed.
	var serverInfo struct{ Nonce string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(info), "INFO ")), &serverInfo); err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(srv.AdminCredentials())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.ParseDecoratedNKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	sig, err := kp.Sign([]byte(serverInfo.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	size := events.MaxPayload + 1
	if _, err := fmt.Fprintf(conn, "CONNECT {\"verbose\":false,\"pedantic\":false,\"nkey\":%q,\"sig\":%q}\r\nPUB %s %d\r\n",
		pub, base64.RawURLEncoding.EncodeToString(sig), subject, size); err != nil {
		t.Fatal(err)
	}
	reply, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reply, "Maximum Payload") {
		t.Fatalf("server answered a PUB of %d bytes with %q, want its maximum payload violation", size, reply)
	}

	// Within max_payload but larger than an event: the stream refuses it.
	js, err := jetstream.New(srv.Conn())
	if err != nil {
		t.Fatal(err)
	}
	_, err = js.Publish(ctx, subject, make([]byte, events.MaxEventBytes+1))
	if !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		t.Fatalf("publish of %d bytes to the stream: %v, want the stream's %q", events.MaxEventBytes+1, err, jetstream.ErrStreamMessageExceedsMaximum)
	}
	if after, err := srv.Log().LastSeq(ctx); err != nil || after != before {
		t.Errorf("oversized publishes: last sequence %d -> %d (%v), want nothing stored", before, after, err)
	}
}

// The dashboard, /metrics and /healthz answer requests for their own address only
// (DNS rebinding protection).
func TestWebEndpointsRefuseRequestsForOtherHosts(t *testing.T) {
	srv := startIn(t, t.TempDir())
	base := srv.HTTPURL()
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("web endpoints at %q, want loopback by default", base)
	}
	port := base[strings.LastIndex(base, ":")+1:]
	get := func(path, host string) int {
		t.Helper()
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/", "/metrics", "/healthz"} {
		for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port} {
			if code := get(path, host); code != http.StatusOK {
				t.Errorf("GET %s with Host %s = %d, want 200", path, host, code)
			}
		}
		for _, host := range []string{"evil.example:" + port, "evil.example:4280", "127.0.0.1:1"} {
			if code := get(path, host); code != http.StatusMisdirectedRequest {
				t.Errorf("GET %s with Host %s = %d, want 421", path, host, code)
			}
		}
	}
}
