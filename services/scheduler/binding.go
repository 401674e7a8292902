// The binding pipeline: a decision for each pending pod, appended pipelined,
// and undone when its version guard refuses it.

package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
)

// placePending decides every pending pod in creation order and appends the
// bindings pipelined. A binding refused by a version guard is undone; the pod's
// newer events come back through Touched and it is decided again.
func (s *Service) placePending(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	keys := s.pendingInOrder()
	nodes := make([]*NodeInfo, 0, len(s.nodes))
	for _, ni := range s.nodes {
		nodes = append(nodes, ni)
	}
	var sent []sentBinding
	p := s.log.Pipeline()
	for _, key := range keys {
		delete(s.pending, key)
		ps := s.pods[key]
		ev, node, err := s.decide(ps, nodes)
		if err != nil {
			return err
		}
		if ev == nil {
			continue
		}
		if err := p.Append(ev, ps.version); err != nil {
			return err
		}
		if node != "" {
			ps.node = node
			s.nodes[node].AddPod(ps.info)
		}
		sent = append(sent, sentBinding{key, node})
		if p.Len() >= 1024 {
			if err := s.settle(ctx, p, sent); err != nil {
				return err
			}
			sent = sent[:0]
		}
	}
	return s.settle(ctx, p, sent)
}

// decide returns the event to append for one pending pod: a binding, an
// unschedulable report (only when its message changed), or nothing.
func (s *Service) decide(ps *podState, nodes []*NodeInfo) (*events.Event, string, error) {
	pod := ps.info.Pod
	ref := events.Ref{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name}
	k, _ := object.ByKind("Pod")
	info := ps.info
	if len(pod.Spec.Volumes) > 0 {
		info = info.WithVolumes(&s.storage)
	}
	res, err := s.sched.Schedule(info, nodes)
	var fit *FitError
	switch {
	case err == nil:
		b := object.Binding{Node: res.Node, Message: explain(res)}
		ev, err := s.event(object.EventType(k, object.Bound), ref, b, res.Node, ps)
		if ev != nil {
			ev.Reason = fmt.Sprintf("assigned %s/%s to %s", pod.Namespace, pod.Name, res.Node)
		}
		return ev, res.Node, err
	case errors.As(err, &fit) || errors.Is(err, ErrNoNodes):
		s.parked[pod.Namespace+"/"+pod.Name] = true
		msg := err.Error()
		if errors.Is(err, ErrNoNodes) {
			msg = "0/0 nodes are available: no nodes registered."
		}
		if msg == ps.message {
			return nil, "", nil
		}
		ps.message = msg
		ev, err := s.event(object.EventType(k, object.Unschedulable), ref, object.Binding{Message: msg}, msg, ps)
		if ev != nil {
			ev.Reason = msg
		}
		return ev, "", err
	default:
		return nil, "", err
	}
}

// event is the event of a decision about ps; decision names it (the node, or
// the reason it fits nowhere). The scheduler reads every node as well as the
// pod, and a node's change is no cause of the pod's: the same version of a pod
// can be decided twice with different answers, and the id must tell them apart,
// or the log would take the second for a retry of the first and drop it.
func (s *Service) event(typ string, ref events.Ref, payload object.Binding, decision string, ps *podState) (*events.Event, error) {
	ev, err := events.New(typ, ref, Actor, payload)
	if err != nil {
		return nil, err
	}
	ev.ID = events.DerivedID(Actor, ps.cause, typ+"\x00"+decision, ref, ps.version)
	ev.Cause, ev.Correlation = ps.cause, ps.corr
	if ev.Correlation == "" {
		ev.Correlation = ev.ID
	}
	return ev, nil
}

// explain renders a decision for the binding event: total and per-plugin scores.
func explain(r Result) string {
	parts := make([]string, 0, len(r.Scores))
	for _, ps := range r.Scores {
		parts = append(parts, fmt.Sprintf("%s %d×%d", ps.Plugin, ps.Score, ps.Weight))
	}
	return fmt.Sprintf("score %d of %d feasible node(s): %s", r.Score, r.Feasible, strings.Join(parts, ", "))
}

// sentBinding is a pipelined decision: a pod and the node assumed for it ("" for an
// unschedulable report).
type sentBinding struct {
	key  string
	node string
}

// settle waits for pipelined appends; bindings refused by a guard are undone,
// and every pod whose append was refused or failed is decided again.
func (s *Service) settle(ctx context.Context, p *events.Pipeline, sent []sentBinding) error {
	res, err := p.Wait(ctx)
	if err != nil {
		return err
	}
	for i, r := range res {
		ps := s.pods[sent[i].key]
		if r.Err == nil {
			if ps != nil {
				s.metrics.decided(sent[i].node != "", ps.pendingSince)
			}
			continue
		}
		if sent[i].node != "" && ps != nil {
			if ni := s.nodes[sent[i].node]; ni != nil {
				ni.RemovePod(ps.info.Pod.UID)
			}
			ps.node = ""
		}
		// Decide this pod again from fresh state: a refused report must not
		// leave it parked with a message the log never stored.
		if ps != nil {
			ps.message = unschedulableMessage(ps.info.Pod)
			delete(s.parked, sent[i].key)
			s.pending[sent[i].key] = true
		}
		if !errors.Is(r.Err, events.ErrConflict) {
			return r.Err
		}
	}
	return nil
}
