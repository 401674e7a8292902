// Package eventstest starts real, embedded NATS JetStream servers for tests, and
// reads back and waits on what reaches their logs (ReadAll, Eventually).
package eventstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events"
)

// Server is an embedded JetStream server with file storage in a test directory and
// the stream of record created.
type Server struct {
	NS  *server.Server
	NC  *nats.Conn
	Log *events.Log
	Dir string
}

// Start runs a server on a random loopback port, stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartIn(tb, tb.TempDir())
}

// StartIn runs a server storing its data in dir (to restart on the same data).
func StartIn(tb testing.TB, dir string) *Server {
	tb.Helper()
	ns, err := server.NewServer(&server.Options{
		ServerName: "test", Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir,
		MaxPayload: events.MaxPayload, NoSigs: true, NoLog: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	log, err := events.NewLog(nc, "")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := log.Ensure(ctx, events.StreamConfig{}); err != nil {
		tb.Fatal(err)
	}
	s := &Server{NS: ns, NC: nc, Log: log, Dir: dir}
	tb.Cleanup(s.Stop)
	return s
}

// Stop closes the connection and shuts the server down. It is idempotent.
func (s *Server) Stop() {
	if s.NC != nil {
		s.NC.Close()
		s.NC = nil
	}
	if s.NS != nil {
		s.NS.Shutdown()
		s.NS.WaitForShutdown()
		s.NS = nil
	}
}

// Connect opens another client connection, closed when the test ends.
func (s *Server) Connect(tb testing.TB) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.NS.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}
