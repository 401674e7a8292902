package query

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// heartbeats reads the newest heartbeat of each node from the heartbeat bucket.
// Heartbeats are not in the log (one event per node every few seconds would be
// most of it), so the Node the log folds keeps the heartbeat of its last status
// report; a query of the present shows the newest one instead, as a Kubernetes
// node's Ready condition does.
type heartbeats struct {
	js jetstream.JetStream
	mu sync.Mutex
	kv jetstream.KeyValue // nil until the bucket exists
}

// last is when the server stored node's newest heartbeat, if the bucket holds
// one (an entry expires a minute after the node stops).
func (h *heartbeats) last(ctx context.Context, node string) (time.Time, bool) {
	h.mu.Lock()
	kv := h.kv
	h.mu.Unlock()
	if kv == nil {
		var err error
		if kv, err = h.js.KeyValue(ctx, api.HeartbeatBucket); err != nil {
			return time.Time{}, false // no agent has started yet: nothing newer to show
		}
		h.mu.Lock()
		h.kv = kv
		h.mu.Unlock()
	}
	e, err := kv.Get(ctx, node)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			h.mu.Lock()
			h.kv = nil // look the bucket up again next time
			h.mu.Unlock()
		}
		return time.Time{}, false
	}
	return e.Created(), true
}

// withHeartbeat returns the stored Node with the lastHeartbeatTime of each of
// its conditions moved to the node's newest heartbeat when that is later. Any
// other object, or a Node without a newer heartbeat, comes back unchanged.
func (h *heartbeats) withHeartbeat(ctx context.Context, k *object.Kind, stored []byte) ([]byte, error) {
	if k.Kind != "Node" {
		return stored, nil
	}
	st, err := object.DecodeStored(k, stored)
	if err != nil {
		return nil, err
	}
	node := st.Object.(*corev1.Node)
	beat, ok := h.last(ctx, node.Name)
	if !ok {
		return stored, nil
	}
	changed := false
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		if beat.Truncate(time.Second).After(c.LastHeartbeatTime.Time) {
			c.LastHeartbeatTime = metav1.NewTime(beat.UTC().Truncate(time.Second))
			changed = true
		}
	}
	if !changed {
		return stored, nil
	}
	return st.Encode()
}
