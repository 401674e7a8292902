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

// Controller watches heartbeats and appends what Decide returns.
type Controller struct {
	log    *events.Log
	logger *slog.Logger
	runner *projections.Runner
	rounds reconcile.Timer
	grace  time.Duration
	start  time.Time

	mu   sync.Mutex
	seen map[string]time.Time
}

// New returns a controller that declares a node lost after grace without
// heartbeats; Attach its runner before Run.
func New(log *events.Log, logger *slog.Logger, grace time.Duration) *Controller {
	return &Controller{log: log, logger: logger, grace: grace, seen: map[string]time.Time{}}
}

// Attach sets the runner folding Projection().
func (c *Controller) Attach(r *projections.Runner) { c.runner = r }

// Instrument times the node-lifecycle's rounds in m.
func (c *Controller) Instrument(m *reconcile.Metrics) { c.rounds = m.Timer("node-lifecycle") }

// Run watches the heartbeat bucket and checks every node each second until ctx
// ends. When the bucket's watch ends under it (the bucket was deleted, or the
// server restarted it), Run judges no node while it has no watch, creates the
// bucket again and watches anew, retrying each second until ctx ends; once it
// watches again, every node gets a full grace period from then, since the
// heartbeats of the gap were never seen.
func (c *Controller) Run(ctx context.Context) {
	for ctx.Err() == nil {
		kv, w, err := c.watch(ctx)
		if err != nil {
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
		c.start, c.seen = time.Now(), map[string]time.Time{}
		c.mu.Unlock()
		c.follow(ctx, kv, w)
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

// follow records heartbeats and checks the nodes each second until ctx ends
// or the watch does. Before each check it asks whether the bucket is still
// there (one request a second): a watch learns of a deleted bucket only after
// missed heartbeats of its own, long after the nodes' would have been judged
// on a watch that sees nothing.
func (c *Controller) follow(ctx context.Context, kv jetstream.KeyValue, w jetstream.KeyWatcher) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
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
		case <-tick.C:
			if _, err := kv.Status(ctx); err != nil {
				if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
					return
				}
				continue // cannot tell whether heartbeats arrive: judge no node now
			}
			if err := c.check(ctx); err != nil && ctx.Err() == nil {
				c.logger.Warn("node lifecycle", "err", err)
			}
		}
	}
}

func (c *Controller) check(ctx context.Context) error {
	defer c.rounds.Since(time.Now())
	now := time.Now()
	var actions []Action
	err := c.runner.View(func(rd projections.Reader, _ uint64) error {
		var nodes []*Node
		err := rd.Scan([]byte("n\x00"), false, func(k, v []byte) bool {
			var rec nodeRec
			if json.Unmarshal(v, &rec) != nil || rec.Node == nil {
				return true
			}
			c.mu.Lock()
			last, ok := c.seen[rec.Node.Name]
			c.mu.Unlock()
			if !ok {
				last = c.start // a node gets a full grace period after the controller starts
			}
			nodes = append(nodes, &Node{Node: rec.Node, Version: rec.Version, EventID: rec.EventID, LastHeartbeat: last})
			return true
		})
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if now.Sub(n.LastHeartbeat) <= c.grace {
				continue
			}
			err := rd.Scan([]byte("p\x00"+n.Node.Name+"\x00"), false, func(k, v []byte) bool {
				parts := strings.SplitN(string(k[2:]), "\x00", 3)
				var r podRec
				if len(parts) == 3 && json.Unmarshal(v, &r) == nil {
					n.Pods = append(n.Pods, Pod{Namespace: parts[1], Name: parts[2], UID: r.UID, Version: r.Version, Deleting: r.Deleting, Grace: r.Grace})
				}
				return true
			})
			if err != nil {
				return err
			}
			as, err := Decide(*n, now, c.grace)
			if err != nil {
				return err
			}
			actions = append(actions, as...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range actions {
		a.Event.Time = now.UTC()
		if _, err := c.log.Append(ctx, a.Event, a.Expected); err != nil && !errors.Is(err, events.ErrConflict) {
			return err
		}
	}
	return nil
}
