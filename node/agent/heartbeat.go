package agent

import (
	"context"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/node/api"
)

// heartbeat refreshes this node's key in the heartbeat bucket.
func (a *Agent) heartbeat(ctx context.Context) {
	tick := time.NewTicker(api.HeartbeatInterval)
	defer tick.Stop()
	// The control plane creates the bucket; a node may write its key but not
	// create or reconfigure a bucket.
	var kv jetstream.KeyValue
	for {
		var err error
		if kv, err = a.log.JetStream().KeyValue(ctx, api.HeartbeatBucket); err == nil {
			break
		}
		if ctx.Err() == nil {
			a.logger.Debug("heartbeat bucket not there yet", "bucket", api.HeartbeatBucket, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	for {
		if _, err := kv.Put(ctx, a.cfg.NodeName, []byte(strconv.FormatInt(time.Now().UnixMilli(), 10))); err != nil && ctx.Err() == nil {
			a.metrics.heartbeatFailed()
			a.logger.Warn("heartbeat", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
