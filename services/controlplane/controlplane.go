// Package controlplane runs `wake server`: the embedded NATS JetStream server and
// every control-plane service, in one process. The services still talk to each
// other only through NATS, so any of them can later run elsewhere unchanged.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/dashboard"
	"github.com/wake-run/wake/services/deployment"
	"github.com/wake-run/wake/services/dispatch"
	"github.com/wake-run/wake/services/endpoints"
	"github.com/wake-run/wake/services/gc"
	"github.com/wake-run/wake/services/ingress"
	"github.com/wake-run/wake/services/namespace"
	"github.com/wake-run/wake/services/nodelifecycle"
	"github.com/wake-run/wake/services/podgc"
	"github.com/wake-run/wake/services/pvbinder"
	"github.com/wake-run/wake/services/query"
	"github.com/wake-run/wake/services/reconcile"
	"github.com/wake-run/wake/services/replicaset"
	"github.com/wake-run/wake/services/scheduler"
	"github.com/wake-run/wake/services/secrets"
	"github.com/wake-run/wake/services/servicenet"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// Actor is the identity the server appends its own events as.
const Actor = "system:wake-server"

// Config of a control plane. Zero values get working single-machine defaults.
type Config struct {
	DataDir string // required
	Host    string // NATS client listen address (default 127.0.0.1)
	Port    int    // NATS client port (default 4222; -1 picks a free port)
	Name    string // server name (default wake-<hostname>)
	Logger  *slog.Logger
	// NoWorkloadControllers leaves out the ReplicaSet and Deployment controllers
	// and the garbage collectors: for tests of the log and the CLI that count the
	// events a person's commands append.
	NoWorkloadControllers bool
	// NodeGrace is how long a node may go without heartbeats before it is marked
	// NotReady and its pods are evicted (default nodelifecycle.DefaultGrace, 20s).
	NodeGrace time.Duration
	// HTTPAddr is where the dashboard and /metrics are served (default
	// DefaultHTTPAddr, or a free port when Port is -1; "127.0.0.1:0" picks a free
	// port; "off" serves nothing).
	HTTPAddr string
	// SnapshotEvery: each projection writes a snapshot to the log's object store
	// whenever it has folded this many sequences past its last one (default
	// 10,000; negative: only on request). Rebuilds and time-travel queries start
	// from the nearest snapshot.
	SnapshotEvery int
	// TerminatedPodGCThreshold is how many terminated pods (Succeeded or Failed)
	// are kept before the pod garbage collector deletes the oldest (default
	// 12,500, as Kubernetes' --terminated-pod-gc-threshold; negative: keep all).
	TerminatedPodGCThreshold int
	// InsecureNoAuth serves NATS without credentials: whoever reaches the port is
	// admin and may delete the log. Off by default: the server then writes the
	// admin and node credentials into DataDir on first start (AdminCredentials).
	InsecureNoAuth bool
	// ServiceCIDR is where Services' cluster IPs come from (default
	// servicenet.DefaultCIDR, 10.96.0.0/16; the cluster DNS Service gets its
	// 10th address). Writers of Services ask the query service for it.
	ServiceCIDR string
}

// Server is a running control plane.
type Server struct {
	cfg     Config
	lock    *dirLock
	ids     *identities // nil: InsecureNoAuth
	ns      *server.Server
	nc      *nats.Conn
	log     *events.Log
	runners []*projections.Runner
	query   *query.Service
	admin   *admin
	subs    []*nats.Subscription
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	logger  *slog.Logger
	mux     *http.ServeMux
	httpSrv *http.Server
	httpURL string
	dash    *dashboard.Dashboard
	metrics *metrics
	failed  chan error // the first part that stopped for good
}

// Start brings up NATS, the stream of record, the projections and the services, and
// ensures the default namespace. It returns once every service answers requests
// from any connection and the query projection has caught up with the log. On
// error everything started is stopped again.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("controlplane: DataDir is required")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = 4222
	}
	if cfg.Port == -1 && cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.Name == "" {
		h, _ := os.Hostname()
		cfg.Name = "wake-" + h
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = abs
	network, err := servicenet.Parse(cfg.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, logger: cfg.Logger, mux: http.NewServeMux(), failed: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.Shutdown()
		}
	}()
	if s.metrics, err = newMetrics(); err != nil {
		return nil, err
	}
	if s.lock, err = lockDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if !cfg.InsecureNoAuth {
		if s.ids, err = loadIdentities(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	if s.ns, err = startNATS(cfg, s.ids.users(), cfg.Logger); err != nil {
		return nil, err
	}
	s.nc, err = nats.Connect(s.ns.ClientURL(), append(s.ids.serverOptions(),
		nats.InProcessServer(s.ns), nats.Name("wake-server"), nats.MaxReconnects(-1))...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	if s.log, err = events.NewLog(s.nc, "", events.WithMetrics(s.metrics.events)); err != nil {
		return nil, err
	}
	if err = s.log.Ensure(ctx, events.StreamConfig{}); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	snapshots, err := projections.OpenSnapshots(ctx, s.log.JetStream())
	if err != nil {
		return nil, err
	}
	every := uint64(max(cfg.SnapshotEvery, 0))
	if cfg.SnapshotEvery == 0 {
		every = 10_000
	}
	projDir := filepath.Join(cfg.DataDir, "projections")
	// project opens a projection and runs it until shutdown.
	project := func(p projections.Projection, opts ...projections.Option) (*projections.Runner, error) {
		opts = append(opts, projections.WithLogger(cfg.Logger), projections.WithSnapshots(snapshots, every),
			projections.WithMetrics(s.metrics.projections))
		r, err := projections.Open(filepath.Join(projDir, p.Name), p, s.log, opts...)
		if err != nil {
			return nil, err
		}
		s.runners = append(s.runners, r)
		s.spawn(func() {
			if err := r.Run(runCtx); err != nil {
				cfg.Logger.Error("projection stopped", "projection", r.Name(), "err", err)
				s.fail(err)
			}
		})
		return r, nil
	}
	census := s.metrics.census
	qr, err := project(query.Projection(), projections.WithTouched(census.Touched))
	if err != nil {
		return nil, err
	}
	census.Attach(qr)
	s.spawn(func() { census.Run(runCtx) })

	kek, err := secrets.LoadKEK(filepath.Join(cfg.DataDir, "keys"))
	if err != nil {
		return nil, err
	}
	keyring, err := secrets.NewKeyring(ctx, s.log.JetStream(), kek, 1)
	if err != nil {
		return nil, err
	}
	sealSub, err := secrets.Serve(s.nc, keyring)
	if err != nil {
		return nil, err
	}
	s.subs = append(s.subs, sealSub)

	// Every reactor: its projection and the controller that reads it, started
	// the same way. Workload reactors are left out with NoWorkloadControllers.
	as := func(service string) *slog.Logger { return cfg.Logger.With("service", service) }
	for _, w := range []struct {
		p        projections.Projection
		ctl      reactor
		workload bool
	}{
		{namespace.Projection(), namespace.New(s.log, as("namespace-controller")), false},
		{secrets.Projection(), secrets.NewShredder(s.log, as("secret-shredder"), keyring), false},
		{scheduler.Projection(), &schedulerReactor{scheduler.NewService(s.log, as("scheduler")), s.metrics.scheduler, as("scheduler")}, false},
		{replicaset.Projection(), reconcile.NewOwnerLoop(s.log, as("replicaset-controller"), replicaset.Decision()), true},
		{deployment.Projection(), reconcile.NewOwnerLoop(s.log, as("deployment-controller"), deployment.Decision()), true},
		{gc.Projection(), reconcile.NewOwnerLoop(s.log, as("garbage-collector"), gc.Decision()), true},
		{podgc.Projection(), podgc.New(s.log, as("pod-garbage-collector"), podgc.WithTerminatedThreshold(cfg.TerminatedPodGCThreshold)), true},
		{nodelifecycle.Projection(), nodelifecycle.New(s.log, as("node-lifecycle"), nodelifecycle.WithGrace(cfg.NodeGrace)), false},
		{dispatch.Projection(), dispatch.New(s.log, as("dispatcher")), false},
		{pvbinder.Projection(), reconcile.NewWhole(s.log, as("volume-binder"), pvbinder.Decision(), 3*time.Second), false},
		{ingress.Projection(), reconcile.NewWhole(s.log, as("ingress-controller"), ingress.Decision(), 5*time.Second), false},
		{endpoints.Projection(), endpoints.New(s.log, as("endpoints-controller")), true},
	} {
		if w.workload && cfg.NoWorkloadControllers {
			continue
		}
		r, err := project(w.p, w.ctl.Hooks()...)
		if err != nil {
			return nil, err
		}
		w.ctl.Attach(r)
		w.ctl.Instrument(s.metrics.reconcile)
		s.spawn(func() { w.ctl.Run(runCtx) })
	}

	s.query = query.NewService(qr, s.log, cfg.Logger.With("service", "query"))
	s.query.Secrets = keyring
	s.query.Snapshots = snapshots
	s.query.Network = &network
	if err = s.query.Start(); err != nil {
		return nil, err
	}
	if s.admin, err = startAdmin(s.nc, s.log, s.runners); err != nil {
		return nil, err
	}
	if err = s.logContinues(ctx); err != nil {
		return nil, err
	}
	// Answers reflect the log: on a restart the query projection first folds
	// what was appended while the server was down.
	if err = s.caughtUp(ctx, qr); err != nil {
		return nil, err
	}
	if err = s.ensureDefaultNamespace(ctx); err != nil {
		return nil, err
	}
	s.Handle("GET /metrics", s.metrics.handler())
	if err = s.startHTTP(cfg.HTTPAddr); err != nil {
		return nil, err
	}
	if s.httpSrv != nil {
		if s.dash, err = dashboard.New(s.nc, dashboard.WithLogger(cfg.Logger.With("service", "dashboard"))); err != nil {
			return nil, err
		}
		s.Handle("/", s.dash)
	}
	return s, nil
}

// reactor is a controller over its own projection: the runner options that start
// its rounds, the runner it reads, the timer of its rounds, and its loop.
type reactor interface {
	Hooks() []projections.Option
	Attach(*projections.Runner)
	Instrument(*reconcile.Metrics)
	Run(context.Context)
}

// schedulerReactor fits the scheduler, which keeps metrics of its own and stops
// with an error, into the list of reactors.
type schedulerReactor struct {
	*scheduler.Service
	metrics *scheduler.Metrics
	logger  *slog.Logger
}

func (s *schedulerReactor) Hooks() []projections.Option {
	return []projections.Option{projections.WithTouched(s.Touched)}
}

func (s *schedulerReactor) Instrument(*reconcile.Metrics) { s.Service.Instrument(s.metrics) }

func (s *schedulerReactor) Run(ctx context.Context) {
	if err := s.Service.Run(ctx); err != nil {
		s.logger.Error("scheduler stopped", "err", err)
	}
}

// logContinues refuses a log that ends before what the projections have folded:
// the stream of record was deleted and created again empty, and folding its new
// events on top of the old state would mix two histories.
func (s *Server) logContinues(ctx context.Context) error {
	last, err := s.log.LastSeq(ctx)
	if err != nil {
		return err
	}
	for _, r := range s.runners {
		if cp := r.Checkpoint(); cp > last {
			return fmt.Errorf("the stream of record %s ends at sequence %d, but projection %s has folded up to %d: the stream was deleted and created again; "+
				"restore the data directory %s from a backup, or start on a new one: %w", events.DefaultStream, last, r.Name(), cp, s.cfg.DataDir, events.ErrStreamGone)
		}
	}
	return nil
}

// caughtUp returns once r has folded the log's newest event.
func (s *Server) caughtUp(ctx context.Context, r *projections.Runner) error {
	last, err := s.log.LastSeq(ctx)
	if err != nil {
		return err
	}
	if err := r.WaitFor(ctx, last); err != nil {
		return fmt.Errorf("the %s projection has not caught up with the log (at %d of %d): %w", r.Name(), r.Checkpoint(), last, err)
	}
	return nil
}

// ensureDefaultNamespace creates "default" if it does not exist, guarded by the
// version of its subject so that two servers starting at once create it once.
func (s *Server) ensureDefaultNamespace(ctx context.Context) error {
	k, _ := object.ByKind("Namespace")
	qc := query.NewClient(s.nc)
	for attempt := 0; attempt < 5; attempt++ {
		_, err := qc.Get(ctx, k, "", metav1.NamespaceDefault)
		var nf *query.NotFoundError
		if err == nil {
			return nil
		}
		if !errors.As(err, &nf) {
			return fmt.Errorf("default namespace: %w", err)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: metav1.NamespaceDefault, UID: uuid.NewUUID()}}
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		ev, err := events.New(object.EventType(k, object.Created), events.Ref{Kind: "Namespace", Name: ns.Name}, Actor,
			&object.Change{Object: mustJSON(ns)})
		if err != nil {
			return err
		}
		ev.Reason = "the default namespace exists from the start"
		if _, err := s.log.Append(ctx, ev, nf.Version); err != nil && !errors.Is(err, events.ErrConflict) {
			return fmt.Errorf("create default namespace: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// spawn runs fn on a goroutine that Shutdown waits for.
func (s *Server) spawn(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// Failed delivers, once, why the server can no longer serve: a projection stopped
// for good because the stream of record is gone (the error wraps
// events.ErrStreamGone) or its database failed. The server does not recreate a
// deleted stream: an empty log would silently forget every object. Its owner
// should Shutdown and report the error.
func (s *Server) Failed() <-chan error { return s.failed }

// fail records the first reason the server can no longer serve.
func (s *Server) fail(err error) {
	select {
	case s.failed <- err:
	default:
	}
}

// ClientURL is where clients reach the server.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// DataDir is the absolute data directory.
func (s *Server) DataDir() string { return s.cfg.DataDir }

// Conn is the server's own in-process NATS connection.
func (s *Server) Conn() *nats.Conn { return s.nc }

// Log is the server's log client.
func (s *Server) Log() *events.Log { return s.log }

// Runners returns the projections the server runs.
func (s *Server) Runners() []*projections.Runner { return s.runners }

// Shutdown stops the services, closes the projections, and stops NATS. It is safe
// to call on a partly started server and more than once.
func (s *Server) Shutdown() {
	if s.dash != nil {
		s.dash.Close() // its live streams would hold the HTTP server's shutdown
		s.dash = nil
	}
	s.stopHTTP()
	if s.admin != nil {
		s.admin.stop()
		s.admin = nil
	}
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.subs = nil
	if s.query != nil {
		s.query.Stop()
		s.query = nil
	}
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	s.wg.Wait()
	for _, r := range s.runners {
		_ = r.Close()
	}
	s.runners = nil
	if s.nc != nil {
		s.nc.Close()
		s.nc = nil
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.ns = nil
	}
	if s.lock != nil {
		s.lock.release()
		s.lock = nil
	}
}
