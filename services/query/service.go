package query

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/secrets"
	"github.com/wake-run/wake/services/servicenet"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// chunkBytes bounds the size of one list reply message (NATS max payload is 1 MiB
// by default).
const chunkBytes = 512 << 10

// Service answers queries from the query projection.
type Service struct {
	runner *projections.Runner
	log    *events.Log
	nc     *nats.Conn
	logger *slog.Logger
	// WaitTimeout bounds how long a request waits for the projection to catch up.
	WaitTimeout time.Duration
	// AtTimeout bounds building the state at a past moment (default 1 min).
	AtTimeout time.Duration
	// Secrets, when set, opens sealed Secrets before they are returned.
	Secrets SecretOpener
	// Snapshots, when set, is where time-travel queries find the nearest
	// snapshot of the query projection to start from.
	Snapshots *projections.SnapshotStore
	// Network is the service network it answers network requests with
	// (default servicenet.Default()).
	Network *servicenet.Network
	history *history
	beats   *heartbeats
	subs    []*nats.Subscription
	wg      sync.WaitGroup
}

// SecretOpener turns a sealed Secret and its applied configuration back into
// clear text.
type SecretOpener interface {
	Open(ctx context.Context, s *corev1.Secret, applied json.RawMessage) (*corev1.Secret, json.RawMessage, error)
}

// open returns the stored bytes of an object as a client may see them. A Secret
// of the past whose key has since been destroyed (it was deleted) stays sealed.
// A Node of the present carries its newest heartbeat (see heartbeats).
func (s *Service) open(k *object.Kind, stored []byte, req *Request) ([]byte, error) {
	present := req.At == 0 && req.AtTime.IsZero()
	if k.Kind == "Node" && present {
		ctx, cancel := context.WithTimeout(context.Background(), s.WaitTimeout)
		defer cancel()
		return s.beats.withHeartbeat(ctx, k, stored)
	}
	if s.Secrets == nil || k.Kind != "Secret" {
		return stored, nil
	}
	st, err := object.DecodeStored(k, stored)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.WaitTimeout)
	defer cancel()
	sec, applied, err := s.Secrets.Open(ctx, st.Object.(*corev1.Secret), st.LastApplied)
	if err != nil && (req.At != 0 || !req.AtTime.IsZero()) {
		return stored, nil
	}
	if err != nil {
		return nil, err
	}
	return (&object.Stored{Object: sec, LastApplied: applied}).Encode()
}

// unreadableSecret is what a list shows of a stored Secret that cannot be opened
// (see secrets.Unreadable).
func unreadableSecret(k *object.Kind, stored []byte, why error) ([]byte, error) {
	st, err := object.DecodeStored(k, stored)
	if err != nil {
		return nil, err
	}
	return (&object.Stored{Object: secrets.Unreadable(st.Object.(*corev1.Secret), why), Version: st.Version}).Encode()
}

// NewService returns a query service over runner (which must fold Projection()).
func NewService(runner *projections.Runner, log *events.Log, logger *slog.Logger) *Service {
	return &Service{runner: runner, log: log, nc: log.Conn(), logger: logger, WaitTimeout: 5 * time.Second, AtTimeout: time.Minute,
		beats: &heartbeats{js: log.JetStream()}}
}

// Start subscribes the handlers in the "wake.query" queue group, so several
// instances share the load, and returns once the server has taken every
// subscription: a request sent from any connection after Start returns is
// answered. Requests are served concurrently.
func (s *Service) Start() error {
	s.history = newHistory(s.log, s.Snapshots)
	for subj, h := range map[string]func(*nats.Msg, *Request) error{
		SubjectGet: s.get, SubjectList: s.list, SubjectEvents: s.events, SubjectWhy: s.why, SubjectSeqs: s.seqs,
		SubjectRejected: s.rejected, SubjectNetwork: s.network,
	} {
		sub, err := s.nc.QueueSubscribe(subj, "wake.query", func(m *nats.Msg) {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(m, h)
			}()
		})
		if err != nil {
			s.Stop()
			return fmt.Errorf("query service: subscribe %s: %w", subj, err)
		}
		s.subs = append(s.subs, sub)
	}
	// A subscription is active only once the server has read its SUB; the
	// server answers this PING after it.
	if err := s.nc.Flush(); err != nil {
		s.Stop()
		return fmt.Errorf("query service: subscriptions not confirmed by the server: %w", err)
	}
	return nil
}

// Stop unsubscribes, returns once the server sends no more requests to this
// instance, and waits for requests in flight.
func (s *Service) Stop() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	if len(s.subs) > 0 {
		_ = s.nc.Flush() // a closed connection has no subscriptions left either
	}
	s.subs = nil
	s.wg.Wait()
	if s.history != nil {
		s.history.close()
		s.history = nil
	}
}

// network answers the service network.
func (s *Service) network(m *nats.Msg, _ *Request) error {
	n := servicenet.Default()
	if s.Network != nil {
		n = *s.Network
	}
	reply(m, &Response{Network: &n, Done: true})
	return nil
}

func (s *Service) serve(m *nats.Msg, h func(*nats.Msg, *Request) error) {
	var req Request
	if err := json.Unmarshal(m.Data, &req); err != nil {
		reply(m, &Response{Code: CodeBadRequest, Error: "malformed request: " + err.Error(), Done: true})
		return
	}
	if err := h(m, &req); err != nil {
		code := CodeInternal
		if re, ok := err.(*RemoteError); ok {
			code = re.Code
		}
		reply(m, &Response{Code: code, Error: err.Error(), Done: true})
	}
}

func reply(m *nats.Msg, r *Response) {
	data, _ := json.Marshal(r)
	_ = m.Respond(data)
}

// catchUp waits until the projection reflects req.MinSeq, or the log's newest event
// when MinSeq is 0.
func (s *Service) catchUp(req *Request) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.WaitTimeout)
	defer cancel()
	target := req.MinSeq
	if target == 0 {
		last, err := s.log.LastSeq(ctx)
		if err != nil {
			return err
		}
		target = last
	}
	if err := s.runner.WaitFor(ctx, target); err != nil {
		return &RemoteError{Code: CodeTimeout, Message: fmt.Sprintf("the query projection has not caught up with the log (at %d, want %d)", s.runner.Checkpoint(), target)}
	}
	return nil
}

func kindOf(req *Request) (*object.Kind, error) {
	k, err := object.Lookup(req.Kind)
	if err != nil {
		return nil, &RemoteError{Code: CodeBadRequest, Message: err.Error()}
	}
	return k, nil
}

func (s *Service) get(m *nats.Msg, req *Request) error {
	k, err := kindOf(req)
	if err != nil {
		return err
	}
	ns := req.Namespace
	if !k.Namespaced {
		ns = ""
	}
	resp := &Response{Done: true}
	err = s.view(req, func(rd projections.Reader, cp uint64) error {
		resp.Checkpoint = cp
		v, ok, err := rd.Get(objectKey('o', k, ns, req.Name))
		if err != nil {
			return err
		}
		if ok {
			v, err = s.open(k, v, req)
			resp.Items = []json.RawMessage{v}
			return err
		}
		resp.Code = CodeNotFound
		resp.Error = fmt.Sprintf("%s %q not found", resourceName(k), req.Name)
		if t, ok, err := rd.Get(objectKey('t', k, ns, req.Name)); err == nil && ok {
			fmt.Sscan(string(t), &resp.Version)
		}
		return nil
	})
	if err != nil {
		return err
	}
	reply(m, resp)
	return nil
}

func (s *Service) list(m *nats.Msg, req *Request) error {
	k, err := kindOf(req)
	if err != nil {
		return err
	}
	sel, err := labels.Parse(req.Selector)
	if err != nil {
		return &RemoteError{Code: CodeBadRequest, Message: fmt.Sprintf("label selector %q: %v", req.Selector, err)}
	}
	ns := req.Namespace
	if !k.Namespaced {
		ns = ""
	}
	return s.view(req, func(rd projections.Reader, cp uint64) error {
		chunk := &Response{Checkpoint: cp}
		size := 0
		var ferr error
		add := func(v []byte) bool {
			item, err := s.open(k, v, req)
			if err != nil && k.Kind == "Secret" {
				// One Secret that cannot be opened does not fail the list.
				item, err = unreadableSecret(k, v, err)
			}
			if err != nil {
				ferr = err
				return false
			}
			if size+len(item) > chunkBytes && len(chunk.Items) > 0 {
				reply(m, chunk)
				chunk = &Response{Checkpoint: cp}
				size = 0
			}
			chunk.Items = append(chunk.Items, append(json.RawMessage(nil), item...))
			size += len(item)
			return true
		}
		var err error
		if sel.Empty() {
			err = rd.Scan(scopePrefix('o', k, ns), false, func(_, v []byte) bool { return add(v) })
		} else {
			// Match on the small label records; read only the matching objects.
			err = rd.Scan(scopePrefix('l', k, ns), false, func(key, v []byte) bool {
				var lbl map[string]string
				if err := json.Unmarshal(v, &lbl); err != nil {
					ferr = fmt.Errorf("labels of %q: %w", key, err)
					return false
				}
				if !sel.Matches(labels.Set(lbl)) {
					return true
				}
				okey := append([]byte{'o'}, key[1:]...)
				obj, found, err := rd.Get(okey)
				if err != nil || !found {
					ferr = err
					return err == nil
				}
				return add(obj)
			})
		}
		if err == nil {
			err = ferr
		}
		if err != nil {
			return err
		}
		chunk.Done = true
		reply(m, chunk)
		return nil
	})
}

func (s *Service) events(m *nats.Msg, req *Request) error {
	k, err := kindOf(req)
	if err != nil {
		return err
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 20
	}
	ns := req.Namespace
	if !k.Namespaced {
		ns = ""
	}
	resp := &Response{Done: true}
	err = s.view(req, func(rd projections.Reader, cp uint64) error {
		resp.Checkpoint = cp
		return rd.Scan(eventPrefix(k, ns, req.Name), true, func(_, v []byte) bool {
			var e EventSummary
			if json.Unmarshal(v, &e) == nil {
				resp.Events = append(resp.Events, e)
			}
			return len(resp.Events) < limit
		})
	})
	if err != nil {
		return err
	}
	for i, j := 0, len(resp.Events)-1; i < j; i, j = i+1, j-1 {
		resp.Events[i], resp.Events[j] = resp.Events[j], resp.Events[i]
	}
	reply(m, resp)
	return nil
}

// resourceName is kubectl's name of a resource in errors: "deployments.apps", "pods".
func resourceName(k *object.Kind) string {
	if k.Group == "" {
		return k.Resource
	}
	return k.Resource + "." + k.Group
}
