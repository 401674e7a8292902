package query

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// SubjectWhy answers the causal chain of an object's current state.
const SubjectWhy = "wake.query.why"

// maxChain bounds a causal chain (a chain longer than this is cut, and says so).
const maxChain = 64

// Step is one link of a causal chain: an event and what it was about.
type Step struct {
	EventSummary
	Object events.Ref `json:"object"`
	// Detail is what the event's payload says beyond its reason, such as the
	// scores that won a scheduling decision.
	Detail string `json:"detail,omitempty"`
}

// why walks from the newest event on the object's own subject that changed what
// it should be (its deletion, for an object that is gone) back through each event's cause, to the event that had
// none: usually a person's command.
func (s *Service) why(m *nats.Msg, req *Request) error {
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
		var start uint64
		if v, ok, err := rd.Get(objectKey('w', k, ns, req.Name)); err != nil {
			return err
		} else if ok && len(v) == 8 {
			start = binary.BigEndian.Uint64(v)
		}
		if start == 0 {
			if t, ok, err := rd.Get(objectKey('t', k, ns, req.Name)); err == nil && ok {
				fmt.Sscan(string(t), &start)
			}
		}
		if start == 0 {
			resp.Code = CodeNotFound
			resp.Error = fmt.Sprintf("%s %q not found", resourceName(k), req.Name)
			return nil
		}
		resp.Steps, resp.Note = s.chain(rd, start)
		return nil
	})
	if err != nil {
		return err
	}
	reply(m, resp)
	return nil
}

// chain follows causes from the event at seq. A cause that cannot be found ends the
// chain with a note in the returned message.
func (s *Service) chain(rd projections.Reader, seq uint64) ([]Step, string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.WaitTimeout)
	defer cancel()
	var steps []Step
	seen := map[uint64]bool{}
	for len(steps) < maxChain {
		if seen[seq] {
			return steps, fmt.Sprintf("the chain loops back to sequence %d", seq)
		}
		seen[seq] = true
		rec, err := s.log.Get(ctx, seq)
		if err != nil {
			return steps, err.Error()
		}
		ev, err := rec.Decode()
		if err != nil {
			return steps, err.Error()
		}
		steps = append(steps, stepOf(ev))
		if ev.Cause == "" {
			return steps, ""
		}
		v, ok, err := rd.Get(idKey(ev.Cause))
		if err != nil || !ok || len(v) != 8 {
			return steps, fmt.Sprintf("cause %s of sequence %d is not in the log", ev.Cause, ev.Seq)
		}
		seq = binary.BigEndian.Uint64(v)
	}
	return steps, fmt.Sprintf("chain cut after %d steps", maxChain)
}

func stepOf(ev *events.Event) Step {
	st := Step{Object: ev.Object, EventSummary: EventSummary{Seq: ev.Seq, ID: ev.ID, Type: ev.Type, Time: ev.Time,
		Actor: ev.Actor, Reason: ev.Reason, Cause: ev.Cause, Correlation: ev.Correlation, Node: ev.Object.Node}}
	var p struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(ev.Payload, &p) == nil && p.Message != ev.Reason {
		st.Detail = p.Message
	}
	return st
}

// Why returns the causal chain of an object's current state, newest first, and a
// note when the chain ends early (empty when it reaches an event without a cause).
func (c *Client) Why(ctx context.Context, kind, namespace, name string, at At) ([]Step, string, error) {
	rs, err := c.call(ctx, SubjectWhy, &Request{Kind: kind, Namespace: namespace, Name: name, At: at.Seq, AtTime: at.Time})
	if err != nil {
		return nil, "", err
	}
	r := rs[0]
	if r.Code == CodeNotFound {
		res := kind
		if k, ok := object.ByKind(kind); ok {
			res = resourceName(k)
		}
		return nil, "", &NotFoundError{Kind: res, Namespace: namespace, Name: name, Version: r.Version}
	}
	return r.Steps, r.Note, nil
}

// maxSeqsAsked bounds one seqs request.
const maxSeqsAsked = 4096

// seqs answers the sequences of event ids, so a reader of the log can show an
// event's cause as the sequence people see.
func (s *Service) seqs(m *nats.Msg, req *Request) error {
	if len(req.IDs) > maxSeqsAsked {
		return &RemoteError{Code: CodeBadRequest, Message: fmt.Sprintf("%d ids asked for, at most %d at once", len(req.IDs), maxSeqsAsked)}
	}
	resp := &Response{Done: true, Seqs: make([]uint64, len(req.IDs))}
	err := s.view(req, func(rd projections.Reader, cp uint64) error {
		resp.Checkpoint = cp
		for i, id := range req.IDs {
			v, ok, err := rd.Get(idKey(id))
			if err != nil {
				return err
			}
			if ok && len(v) == 8 {
				resp.Seqs[i] = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	reply(m, resp)
	return nil
}

// Seqs returns the log sequence of each event id (0 for ids not in the log).
func (c *Client) Seqs(ctx context.Context, ids []string) ([]uint64, error) {
	out := make([]uint64, 0, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), maxSeqsAsked)
		rs, err := c.call(ctx, SubjectSeqs, &Request{IDs: ids[:n]})
		if err != nil {
			return nil, err
		}
		if len(rs[0].Seqs) != n {
			return nil, fmt.Errorf("%s: %d sequences for %d ids", SubjectSeqs, len(rs[0].Seqs), n)
		}
		out = append(out, rs[0].Seqs...)
		ids = ids[n:]
	}
	return out, nil
}
