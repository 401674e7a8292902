package query

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/projections"
)

// SubjectRejected answers which stored events the query projection rejected:
// the events that did not take effect, which the audit trail must not show as
// fact.
const SubjectRejected = "wake.query.rejected"

// EventKey names one stored event: its log sequence and the id its envelope
// carries (empty when the envelope cannot be read).
type EventKey struct {
	Seq uint64 `json:"seq"`
	ID  string `json:"id,omitempty"`
}

// rejectedUnrecorded is the answer for an event that did not take effect and
// whose rejection the projection holds no record of (it was restored from a
// snapshot taken after the event).
const rejectedUnrecorded = "rejected: the event did not take effect (its reason was not kept)"

// Rejected decides, for each stored event, whether it took effect: an event
// took effect when the id index names its sequence (Fold indexes the id of
// every event it folds, and the first event with an id keeps it). For one that
// did not, the reason is the projection's record of its rejection, if any.
// indexed holds, for each key, the sequence the index names for its id (0:
// none); recorded, the projection's record of its rejection (zero: none).
func Rejected(keys []EventKey, indexed []uint64, recorded []projections.Rejection) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		if k.ID != "" && indexed[i] == k.Seq {
			continue
		}
		out[i] = rejectedUnrecorded
		if recorded[i].Error != "" {
			out[i] = recorded[i].Error
		}
	}
	return out
}

func (s *Service) rejected(m *nats.Msg, req *Request) error {
	if len(req.Keys) > maxSeqsAsked {
		return &RemoteError{Code: CodeBadRequest, Message: fmt.Sprintf("%d events asked about, at most %d at once", len(req.Keys), maxSeqsAsked)}
	}
	if req.At != 0 || !req.AtTime.IsZero() {
		return &RemoteError{Code: CodeBadRequest, Message: "rejected events are asked of the present projection, without a moment"}
	}
	indexed := make([]uint64, len(req.Keys))
	seqs := make([]uint64, len(req.Keys))
	newest := uint64(0)
	for i, k := range req.Keys {
		seqs[i], newest = k.Seq, max(newest, k.Seq)
	}
	req.MinSeq = max(req.MinSeq, newest)
	resp := &Response{Done: true}
	err := s.view(req, func(rd projections.Reader, cp uint64) error {
		resp.Checkpoint = cp
		if newest > cp {
			return fmt.Errorf("the query projection is at %d, the events asked about reach %d", cp, newest)
		}
		for i, k := range req.Keys {
			if k.ID == "" {
				continue
			}
			v, ok, err := rd.Get(idKey(k.ID))
			if err != nil {
				return err
			}
			if ok && len(v) == 8 {
				indexed[i] = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	recorded, err := s.runner.Rejections(seqs)
	if err != nil {
		return err
	}
	resp.Rejected = Rejected(req.Keys, indexed, recorded)
	reply(m, resp)
	return nil
}

// Rejections returns, for each stored event, why the query projection rejected
// it ("" for an event that took effect). It waits until the projection has
// folded the newest of them.
func (c *Client) Rejections(ctx context.Context, keys []EventKey) ([]string, error) {
	out := make([]string, 0, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), maxSeqsAsked)
		rs, err := c.call(ctx, SubjectRejected, &Request{Keys: keys[:n]})
		if err != nil {
			return nil, err
		}
		if len(rs[0].Rejected) != n {
			return nil, fmt.Errorf("%s: %d answers for %d events", SubjectRejected, len(rs[0].Rejected), n)
		}
		out = append(out, rs[0].Rejected...)
		keys = keys[n:]
	}
	return out, nil
}
