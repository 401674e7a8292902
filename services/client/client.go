// Package client is what every wake command and the dashboard use to talk to a
// cluster: it appends desired-state events to the log with version guards and
// asks the query service. It speaks only NATS. It sits under services (beside
// the query and secrets services whose wire types it uses) so the CLI, the
// dashboard and any API facade share it without importing the command tree; no
// service's controller imports it.
package client

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	wakecreds "github.com/wake-run/wake/services/controlplane/credentials"
	"github.com/wake-run/wake/services/query"
)

// DefaultServer is where clients look for a server when none is given.
const DefaultServer = "nats://127.0.0.1:4222"

// Client is a connection to a wake cluster.
type Client struct {
	NC    *nats.Conn
	Log   *events.Log
	Query *query.Client
	// Actor is who this client appends as ("user:alice").
	Actor string
	// Reason is recorded on every event this client appends (the command line).
	Reason string
	// MaxAttempts bounds retries of an append on version conflicts (default 20).
	MaxAttempts int
}

// Connect dials servers (comma-separated NATS URLs; empty means $WAKE_SERVER or
// DefaultServer) signed in with the credential file at credentials ("": none, for
// a server started with --insecure-no-auth). An unreachable server fails within
// about two seconds with an error naming the address; a server that refuses the
// credential (or its absence) fails with an error that says where the admin
// credential is.
func Connect(servers, credentials string) (*Client, error) {
	if servers == "" {
		servers = os.Getenv("WAKE_SERVER")
	}
	if servers == "" {
		servers = DefaultServer
	}
	for _, s := range strings.Split(servers, ",") {
		if _, err := url.Parse(strings.TrimSpace(s)); err != nil {
			return nil, fmt.Errorf("--server %q: %v", s, err)
		}
	}
	opts := []nats.Option{nats.Name("wake-cli"), nats.Timeout(2 * time.Second), nats.MaxReconnects(3), nats.ReconnectWait(200 * time.Millisecond)}
	if credentials != "" {
		creds, err := wakecreds.Options(credentials)
		if err != nil {
			return nil, err
		}
		opts = append(opts, creds...)
	}
	nc, err := nats.Connect(servers, opts...)
	if errors.Is(err, nats.ErrAuthorization) {
		return nil, &RefusedError{Server: servers, Credentials: credentials}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach the wake server at %s: %v", servers, unwrapDial(err))
	}
	return New(nc)
}

// AdminCredentialsHint is where `wake up` keeps the admin credential by default.
const AdminCredentialsHint = "/var/lib/wake/" + wakecreds.AdminFile

// RefusedError is a server's refusal of a connection's credential (or of its
// lack of one).
type RefusedError struct {
	Server      string
	Credentials string // the file presented; "" for none
}

func (e *RefusedError) Error() string {
	what := "no credentials"
	if e.Credentials != "" {
		what = "it does not know the credential in " + e.Credentials
	}
	return fmt.Sprintf("the wake server at %s refused the connection: %s (the admin credential is in %s, or admin.creds in the server's --data-dir; pass --credentials or set %s)",
		e.Server, what, AdminCredentialsHint, wakecreds.EnvFile)
}

func unwrapDial(err error) error {
	if errors.Is(err, nats.ErrNoServers) {
		return errors.New("no server answers (is `wake up` running? set --server or WAKE_SERVER)")
	}
	return err
}

// New wraps an existing connection.
func New(nc *nats.Conn) (*Client, error) {
	log, err := events.NewLog(nc, "")
	if err != nil {
		return nil, err
	}
	return &Client{NC: nc, Log: log, Query: query.NewClient(nc), Actor: DefaultActor(), MaxAttempts: 20}, nil
}

// Close closes the connection.
func (c *Client) Close() { c.NC.Close() }

// DefaultActor names the person running this process: "user:<login>".
func DefaultActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "user:" + u.Username
	}
	return "user:unknown"
}

// newEvent builds an event of this client with its actor and reason.
func (c *Client) newEvent(typ string, ref events.Ref, payload any) (*events.Event, error) {
	ev, err := events.New(typ, ref, c.Actor, payload)
	if err != nil {
		return nil, err
	}
	ev.Reason = c.Reason
	return ev, nil
}

// subjectVersion is the version a writer of the object's own subject names.
func subjectVersion(st *object.Stored) uint64 {
	if st.Version != 0 {
		return st.Version
	}
	v, _ := strconv.ParseUint(st.Object.GetResourceVersion(), 10, 64)
	return v
}
