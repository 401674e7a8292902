package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/servicenet"
)

// Client asks the query service. It is safe for concurrent use.
type Client struct {
	nc *nats.Conn
	// Timeout bounds each request when ctx has no deadline (default 10s).
	Timeout time.Duration
}

// NewClient returns a client over nc.
func NewClient(nc *nats.Conn) *Client { return &Client{nc: nc, Timeout: 10 * time.Second} }

// ErrNoService is returned when no query service answers.
var ErrNoService = errors.New("no query service is answering (is `wake server` running?)")

// call sends req and collects every reply message until one has Done. Requests
// answered by one message (get, events) use the connection's shared reply inbox;
// lists subscribe an inbox of their own for the stream of chunks.
func (c *Client) call(ctx context.Context, subject string, req *Request) ([]*Response, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if subject != SubjectList {
		msg, err := c.nc.RequestWithContext(ctx, subject, data)
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, ErrNoService
		}
		if err != nil {
			return nil, fmt.Errorf("%s: no answer: %w", subject, err)
		}
		r, err := decodeResponse(subject, msg)
		if err != nil {
			return nil, err
		}
		return []*Response{r}, nil
	}
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, err
	}
	if err := c.nc.PublishRequest(subject, inbox, data); err != nil {
		return nil, err
	}
	var out []*Response
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, ErrNoService
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && len(out) == 0 {
				return nil, fmt.Errorf("%s: no answer: %w", subject, err)
			}
			return nil, err
		}
		r, err := decodeResponse(subject, msg)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		if r.Done {
			return out, nil
		}
	}
}

// decodeResponse parses one reply; an error answer other than NotFound becomes a
// *RemoteError.
func decodeResponse(subject string, msg *nats.Msg) (*Response, error) {
	var r Response
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return nil, fmt.Errorf("%s: malformed answer: %w", subject, err)
	}
	if r.Error != "" && r.Code != CodeNotFound {
		return nil, &RemoteError{Code: r.Code, Message: r.Error}
	}
	return &r, nil
}

// Get returns the object and the checkpoint the answer reflects. A missing object
// returns a *NotFoundError carrying the version of its deletion.
func (c *Client) Get(ctx context.Context, k *object.Kind, namespace, name string) (*object.Stored, error) {
	st, _, err := c.GetAt(ctx, k, namespace, name, At{})
	return st, err
}

// GetAt returns the object as it was at a moment of the log, and the sequence the
// answer reflects. A missing object returns a *NotFoundError.
func (c *Client) GetAt(ctx context.Context, k *object.Kind, namespace, name string, at At) (*object.Stored, uint64, error) {
	rs, err := c.call(ctx, SubjectGet, &Request{Kind: k.Kind, Namespace: namespace, Name: name, At: at.Seq, AtTime: at.Time})
	if err != nil {
		return nil, 0, err
	}
	r := rs[0]
	if r.Code == CodeNotFound {
		return nil, r.Checkpoint, &NotFoundError{Kind: resourceName(k), Namespace: namespace, Name: name, Version: r.Version}
	}
	if len(r.Items) != 1 {
		return nil, 0, fmt.Errorf("get %s: malformed answer", k.Qualified(name))
	}
	st, err := object.DecodeStored(k, r.Items[0])
	return st, r.Checkpoint, err
}

// List returns the objects of kind k in namespace (all namespaces when empty)
// that match the label selector, in name order, and the checkpoint they reflect.
func (c *Client) List(ctx context.Context, k *object.Kind, namespace, selector string) ([]object.Object, uint64, error) {
	return c.ListAt(ctx, k, namespace, selector, At{})
}

// ListAt is List as of a moment of the log; the sequence returned is the one the
// answer reflects (for a time, the last event at or before it).
func (c *Client) ListAt(ctx context.Context, k *object.Kind, namespace, selector string, at At) ([]object.Object, uint64, error) {
	rs, err := c.call(ctx, SubjectList, &Request{Kind: k.Kind, Namespace: namespace, Selector: selector, At: at.Seq, AtTime: at.Time})
	if err != nil {
		return nil, 0, err
	}
	var items []json.RawMessage
	var cp uint64
	for _, r := range rs {
		cp = r.Checkpoint
		items = append(items, r.Items...)
	}
	objs, err := decodeAll(k, items)
	return objs, cp, err
}

// decodeAll decodes stored objects on every core: decoding dominates the cost of a
// large list.
func decodeAll(k *object.Kind, items []json.RawMessage) ([]object.Object, error) {
	objs := make([]object.Object, len(items))
	workers := min(runtime.GOMAXPROCS(0), 1+len(items)/256)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(items); i += workers {
				st, err := object.DecodeStored(k, items[i])
				if err != nil {
					errs[w] = err
					return
				}
				objs[i] = st.Object
			}
		}()
	}
	wg.Wait()
	return objs, errors.Join(errs...)
}

// Events returns the most recent events (oldest first, up to limit) of an object.
func (c *Client) Events(ctx context.Context, k *object.Kind, namespace, name string, limit int) ([]EventSummary, error) {
	return c.EventsAt(ctx, k, namespace, name, limit, At{})
}

// EventsAt is Events as of a moment of the log.
func (c *Client) EventsAt(ctx context.Context, k *object.Kind, namespace, name string, limit int, at At) ([]EventSummary, error) {
	rs, err := c.call(ctx, SubjectEvents, &Request{Kind: k.Kind, Namespace: namespace, Name: name, Limit: limit, At: at.Seq, AtTime: at.Time})
	if err != nil {
		return nil, err
	}
	return rs[0].Events, nil
}

// Network returns the service network the control plane allocates from.
func (c *Client) Network(ctx context.Context) (servicenet.Network, error) {
	rs, err := c.call(ctx, SubjectNetwork, &Request{})
	if err != nil {
		return servicenet.Network{}, err
	}
	if rs[0].Network == nil {
		return servicenet.Network{}, fmt.Errorf("%s: the answer holds no network", SubjectNetwork)
	}
	return *rs[0].Network, nil
}
