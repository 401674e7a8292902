// Package dashboard serves wake's live web page: namespaces, nodes, deployments,
// pods, services, endpoints and the event stream of a cluster, updated live from
// the log, per-pod logs, and a timeline slider that shows the cluster as it was
// at a past sequence of the log.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary (no build
// step, nothing fetched from the internet). It reads everything through the
// dashboard's JSON and server-sent-event endpoints, which in turn only talk
// NATS: the query service for tables (kubectl's cells, computed server-side by
// events/object/printer), the log for events, and node agents for logs.
//
//	GET /                                  the page
//	GET /assets/{file}                     its script and style sheet
//	GET /api/tables/{resource}?namespace=&at=    one kind's table (JSON)
//	GET /api/events?namespace=&at=&limit=        the newest events up to a sequence (JSON)
//	GET /api/timeline                      the log's first and last sequence and their times (JSON)
//	GET /api/stream?namespace=             every new event, as server-sent events
//	GET /api/logs?namespace=&pod=&container=&tail=&follow=   a container's log, as server-sent events
//
// Bad parameters answer 400 with a plain-text message that names the parameter
// and what it allows; an unreachable query service answers 503.
package dashboard

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/services/client"
)

//go:embed web
var webFiles embed.FS

// Dashboard is the web page and its endpoints, an http.Handler. Streams it
// serves (live events, followed logs) end when their request ends or when
// Close is called, whichever comes first.
type Dashboard struct {
	c         *client.Client
	logger    *slog.Logger
	now       func() time.Time
	heartbeat time.Duration
	mux       *http.ServeMux

	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	mu      sync.Mutex
	closed  bool
	streams sync.WaitGroup
}

// Option configures a Dashboard.
type Option func(*Dashboard)

// WithLogger logs failures of the dashboard's requests to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(d *Dashboard) { d.logger = l } }

// WithClock makes ages in tables count to now() instead of the wall clock.
func WithClock(now func() time.Time) Option { return func(d *Dashboard) { d.now = now } }

// WithHeartbeat sets how often an idle stream sends a comment line, so that
// proxies and browsers keep it open (default 15s).
func WithHeartbeat(every time.Duration) Option { return func(d *Dashboard) { d.heartbeat = every } }

// New returns the dashboard of the cluster that nc is connected to. It does not
// own nc: Close leaves it open.
func New(nc *nats.Conn, opts ...Option) (*Dashboard, error) {
	c, err := client.New(nc)
	if err != nil {
		return nil, err
	}
	d := &Dashboard{c: c, logger: slog.New(slog.DiscardHandler), now: time.Now, heartbeat: 15 * time.Second, mux: http.NewServeMux()}
	for _, o := range opts {
		o(d)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	assets, _ := fs.Sub(webFiles, "web")
	d.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, assets, "index.html")
	})
	d.mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))
	d.mux.HandleFunc("GET /api/tables/{resource}", d.serveTable)
	d.mux.HandleFunc("GET /api/events", d.serveEvents)
	d.mux.HandleFunc("GET /api/timeline", d.serveTimeline)
	d.mux.HandleFunc("GET /api/stream", d.stream(d.serveStream))
	d.mux.HandleFunc("GET /api/logs", d.stream(d.serveLogs))
	return d, nil
}

// ServeHTTP serves the page and its endpoints; other paths answer 404.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// Close ends every stream in flight and waits until their handlers have
// returned; streams opened afterwards end at once. It is safe to call more
// than once. Call it before shutting the HTTP server down: http.Server.Shutdown
// waits for streaming responses, which never end by themselves.
func (d *Dashboard) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.streams.Wait()
}

// stream wraps a streaming handler: its context ends with the request or at
// Close, and Close waits for it.
func (d *Dashboard) stream(h func(ctx context.Context, w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.enter() {
			http.Error(w, "the dashboard is shutting down", http.StatusServiceUnavailable)
			return
		}
		defer d.streams.Done()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(d.ctx, cancel)
		defer stop()
		h(ctx, w, r)
	}
}

// enter counts a stream in, unless Close has begun.
func (d *Dashboard) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.streams.Add(1)
	return true
}
