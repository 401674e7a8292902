package nodelifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// DefaultGrace is how long a node may go without heartbeats before it is
// declared lost.
const DefaultGrace = 20 * time.Second

// Controller watches heartbeats and appends what Decide returns. Its decision
// rounds run on the shared reconcile loop, each second for every node, and only
// while it watches the heartbeat bucket.
type Controller struct {
	*reconcile.Loop
	log    *events.Log
	logger *slog.Logger
	grace  time.Duration

	mu    sync.Mutex
	start time.Time
	seen  map[string]time.Time
	// noticed is when a round first saw each node in the projection: a node
	// registered after the watch started gets its full grace period from
	// then, as the kubelet's first heartbeat may follow its registration.
	noticed  map[string]time.Time
	kv       jetstream.KeyValue // nil: no watch
	endWatch context.CancelFunc
}

// Option configures a Controller.
type Option func(*Controller)

// WithGrace sets how long a node may go without heartbeats before it is
// declared lost (default DefaultGrace; 0 keeps the default).
func WithGrace(d time.Duration) Option {
	return func(c *Controller) {
		if d != 0 {
			c.grace = d
		}
	}
}

// WithTick sets how often the nodes are judged (default 1s).
func WithTick(d time.Duration) Option { return func(c *Controller) { c.SetResync(d, d) } }

// New returns a controller; Attach its runner before Run. It needs no hooks:
// its rounds come with the tick.
func New(log *events.Log, logger *slog.Logger, opts ...Option) *Controller {
	c := &Controller{log: log, logger: logger, grace: DefaultGrace, seen: map[string]time.Time{}, noticed: map[string]time.Time{}}
	c.Loop = reconcile.New(reconcile.Config{Name: "node lifecycle", Log: log, Logger: logger,
		Subjects: Projection().Subjects, Mode: reconcile.Ticked, AllOwners: []byte("n\x00"),
		Decide: c.decideRound, Ready: c.watching, Tick: time.Second})
	for _, o := range opts {
		o(c)
	}
	return c
}

// Run watches the heartbeat bucket, and judges every node each second, until ctx
// ends. When the bucket's watch ends under it (the bucket was deleted, or the
// server restarted it), Run judges no node while it has no watch, creates the
// bucket again and watches anew, retrying each second until ctx ends; once it
// watches again, every node gets a full grace period from then, since the
// heartbeats of the gap were never seen.
func (c *Controller) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Loop.Run(ctx)
	}()
	defer func() { <-done }()
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx)
		kv, w, err := c.watch(wctx)
		if err != nil {
			cancel()
			if ctx.Err() == nil {
				c.logger.Error("watch heartbeats: retrying in 1s", "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		c.mu.Lock()
		c.start, c.seen, c.kv, c.endWatch = time.Now(), map[string]time.Time{}, kv, cancel
		c.mu.Unlock()
		c.follow(wctx, w)
		c.mu.Lock()
		c.kv, c.endWatch = nil, nil
		c.mu.Unlock()
		cancel()
		_ = w.Stop()
		if ctx.Err() == nil {
			c.logger.Warn("the heartbeat watch ended (bucket " + api.HeartbeatBucket + " deleted?): watching again")
		}
	}
}

func (c *Controller) watch(ctx context.Context) (jetstream.KeyValue, jetstream.KeyWatcher, error) {
	kv, err := c.log.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: api.HeartbeatBucket,
		Description: "wake: node liveness", History: 1, TTL: time.Minute, Storage: jetstream.MemoryStorage})
	if err != nil {
		return nil, nil, fmt.Errorf("heartbeat bucket: %w", err)
	}
	w, err := kv.WatchAll(ctx)
	return kv, w, err
}

// follow records heartbeats until ctx ends or the watch does.
func (c *Controller) follow(ctx context.Context, w jetstream.KeyWatcher) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil && e.Operation() == jetstream.KeyValuePut {
				c.mu.Lock()
				c.seen[e.Key()] = time.Now() // the controller's clock: heartbeats need no clock sync
				c.mu.Unlock()
			}
		}
	}
}

// watching says whether a round may judge the nodes: only while a watch runs and
// the bucket is still there (one request a round). A watch learns of a deleted
// bucket only after missed heartbeats of its own, long after the nodes' would
// have been judged on a watch that sees nothing; so a missing bucket ends the
// watch here, and Run watches anew.
func (c *Controller) watching(ctx context.Context) bool {
	c.mu.Lock()
	kv, end := c.kv, c.endWatch
	c.mu.Unlock()
	if kv == nil {
		return false
	}
	if _, err := kv.Status(ctx); err != nil {
		if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			end()
		}
		return false // cannot tell whether heartbeats arrive: judge no node now
	}
	return true
}

// decideRound judges the nodes: each one whose heartbeats are older than the
// grace period is decided with its pods.
func (c *Controller) decideRound(rd projections.Reader, owners []string, now time.Time) ([]reconcile.Step, error) {
	var plan []reconcile.Step
	for _, name := range owners {
		raw, ok, err := rd.Get([]byte("n\x00" + name))
		if err != nil {
			return nil, err
		}
		var rec nodeRec
		if !ok || json.Unmarshal(raw, &rec) != nil || rec.Node == nil {
			continue
		}
		c.mu.Lock()
		last, ok := c.seen[rec.Node.Name]
		if !ok {
			// A node gets a full grace period after the watch starts, and
			// after a round first saw it.
			if _, known := c.noticed[rec.Node.Name]; !known {
				c.noticed[rec.Node.Name] = now
			}
			last = c.start
			if n := c.noticed[rec.Node.Name]; n.After(last) {
				last = n
			}
		}
		c.mu.Unlock()
		if now.Sub(last) <= c.grace {
			continue
		}
		n := Node{Node: rec.Node, Version: rec.Version, EventID: rec.EventID, LastHeartbeat: last}
		err = rd.Scan([]byte("p\x00"+n.Node.Name+"\x00"), false, func(k, v []byte) bool {
			parts := strings.SplitN(string(k[2:]), "\x00", 3)
			var r podRec
			if len(parts) == 3 && json.Unmarshal(v, &r) == nil {
				n.Pods = append(n.Pods, Pod{Namespace: parts[1], Name: parts[2], UID: r.UID, Version: r.Version, Deleting: r.Deleting, Grace: r.Grace})
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		as, err := Decide(n, now, c.grace)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			plan = append(plan, reconcile.Step{Owner: name, Action: a})
		}
	}
	return plan, nil
}
