package controlplanetest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
)

// Discard is a logger that writes nothing.
var Discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// Actor is who the client Start returns appends as.
const Actor = "user:alice"

// Start runs a whole control plane and connects an admin client appending as
// Actor; both stop when the test ends. Where cfg leaves them unset, the data
// directory is a fresh test directory and the logger is Discard; the port is
// always a free one.
func Start(tb testing.TB, cfg controlplane.Config) (*controlplane.Server, *client.Client) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = Discard
	}
	cfg.Port = -1
	srv, err := controlplane.Start(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	c, err := client.Connect(srv.ClientURL(), srv.AdminCredentials())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	c.Actor = Actor
	return srv, c
}

// Write writes every document of manifest (YAML, any number of documents) in
// mode, into namespace default unless a document names one, and returns the
// results, stopping at the first refused write with its error. A manifest that
// does not decode fails the test.
func Write(tb testing.TB, c *client.Client, mode client.Mode, manifest string) ([]client.Result, error) {
	tb.Helper()
	docs, err := object.Decode("test.yaml", []byte(manifest))
	if err != nil {
		tb.Fatal(err)
	}
	if err := client.SetNamespace(docs, "", false); err != nil {
		tb.Fatal(err)
	}
	var out []client.Result
	for i := range docs {
		res, err := c.Write(context.Background(), &docs[i], mode)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// Apply applies every document of manifest as Write does; a refused write fails
// the test.
func Apply(tb testing.TB, c *client.Client, manifest string) []client.Result {
	tb.Helper()
	out, err := Write(tb, c, client.ModeApply, manifest)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Controller is what a controller run over its own projection offers: it is
// notified of each commit, reads the runner it is attached to, and runs until
// its context ends.
type Controller interface {
	Notify(uint64)
	Attach(*projections.Runner)
	Run(context.Context)
}

// RunProjection runs a fresh Pebble projection p of log until the test ends.
func RunProjection(tb testing.TB, log *events.Log, p projections.Projection, opts ...projections.Option) *projections.Runner {
	tb.Helper()
	r, _ := run(tb, log, p, nil, opts...)
	return r
}

// RunController runs ctl over a fresh Pebble projection p of log, hooked to the
// runner by its Hooks when it has them (a reconcile.Loop), else notified after
// every commit, until the test ends or the returned func (idempotent) stops it.
func RunController(tb testing.TB, log *events.Log, p projections.Projection, ctl Controller) (stop func()) {
	tb.Helper()
	hooks := []projections.Option{projections.WithAfterCommit(ctl.Notify)}
	if h, ok := ctl.(interface{ Hooks() []projections.Option }); ok {
		hooks = h.Hooks()
	}
	_, stop = run(tb, log, p, ctl, hooks...)
	return stop
}

// run opens p and runs it, and ctl over it unless nil, until stopped.
func run(tb testing.TB, log *events.Log, p projections.Projection, ctl Controller, opts ...projections.Option) (*projections.Runner, func()) {
	tb.Helper()
	opts = append([]projections.Option{projections.WithLogger(Discard)}, opts...)
	r, err := projections.Open(filepath.Join(tb.TempDir(), p.Name), p, log, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	if ctl != nil {
		ctl.Attach(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx); err != nil {
			tb.Error(err)
		}
	}()
	if ctl != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctl.Run(ctx)
		}()
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			_ = r.Close()
		})
	}
	tb.Cleanup(stop)
	return r, stop
}
