package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/events/object/printer"
	"github.com/wake-run/wake/services/query"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func newDescribeCmd(g *globals) *cobra.Command {
	var selector, atFlag string
	cmd := &cobra.Command{
		Use:   "describe TYPE NAME | TYPE/NAME | TYPE -l SELECTOR",
		Short: "Show an object in detail, with its recent events",
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := parseTargets(args)
			if err != nil {
				return err
			}
			at, err := parseAt("at", atFlag, time.Now())
			if err != nil {
				return err
			}
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			first := true
			var errs []error
			for _, t := range targets {
				var objs []object.Object
				var seq uint64
				if len(t.names) == 0 {
					if objs, seq, err = c.Query.ListAt(ctx, t.kind, g.ns(), selector, at); err != nil {
						return err
					}
				}
				for _, name := range t.names {
					st, cp, err := c.Query.GetAt(ctx, t.kind, g.ns(), name, at)
					seq = cp
					if err != nil {
						errs = append(errs, err)
						continue
					}
					objs = append(objs, st.Object)
				}
				now, evAt := time.Now(), query.At{}
				if !at.IsZero() {
					evAt = query.At{Seq: seq}
					now = momentOf(ctx, c, at, seq)
					if first {
						fmt.Fprintf(g.errOut, "As of sequence %d%s:\n", seq, atSuffix(now))
					}
				}
				for _, o := range objs {
					evs, err := c.Query.EventsAt(ctx, t.kind, o.GetNamespace(), o.GetName(), 20, evAt)
					if err != nil {
						return err
					}
					if !first {
						fmt.Fprintln(g.out)
					}
					first = false
					rel, err := related(ctx, c.Query, o, evAt)
					if err != nil {
						return err
					}
					if err := printer.DescribeRelated(g.out, o, rel, describeEvents(evs), now); err != nil {
						return err
					}
				}
			}
			return joinNotFound(errs)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector, when no name is given")
	cmd.Flags().StringVar(&atFlag, "at", "", atHelp)
	return cmd
}

// related fetches, as of at, what the description of o mentions besides o.
func related(ctx context.Context, q *query.Client, o object.Object, at query.At) (printer.Related, error) {
	var rel printer.Related
	want := printer.RelatedFor(o)
	if want.Kind == "" {
		return rel, nil
	}
	k, err := object.Lookup(want.Kind)
	if err != nil {
		return rel, err
	}
	objs, _, err := q.ListAt(ctx, k, want.Namespace, want.Selector, at)
	if err != nil {
		return rel, fmt.Errorf("describe %s: list its %s: %w", o.GetName(), want.Kind, err)
	}
	switch want.Kind {
	case "replicasets":
		for _, x := range objs {
			if rs, ok := x.(*appsv1.ReplicaSet); ok {
				rel.ReplicaSets = append(rel.ReplicaSets, rs)
			}
		}
	case "endpointslices":
		rel.EndpointSlices = []*discoveryv1.EndpointSlice{}
		for _, x := range objs {
			if s, ok := x.(*discoveryv1.EndpointSlice); ok {
				rel.EndpointSlices = append(rel.EndpointSlices, s)
			}
		}
	case "pods":
		rel.Pods = []*corev1.Pod{}
		for _, x := range objs {
			if p, ok := x.(*corev1.Pod); ok && p.Spec.NodeName == want.NodeName {
				rel.Pods = append(rel.Pods, p)
			}
		}
	case "endpoints": // an Ingress's backends: their Services name the port
		rel.Endpoints = []*corev1.Endpoints{}
		for _, x := range objs {
			if e, ok := x.(*corev1.Endpoints); ok {
				rel.Endpoints = append(rel.Endpoints, e)
			}
		}
		sk, _ := object.ByKind("Service")
		svcs, _, err := q.ListAt(ctx, sk, want.Namespace, "", at)
		if err != nil {
			return rel, fmt.Errorf("describe %s: list its services: %w", o.GetName(), err)
		}
		for _, x := range svcs {
			if s, ok := x.(*corev1.Service); ok {
				rel.Services = append(rel.Services, s)
			}
		}
	}
	return rel, nil
}

// describeEvents turns the object's recent events into describe's rows. A
// node's repeated occurrence (a probe failing every period) is one series:
// only its newest report is shown, with its count (see object.Occurrence).
func describeEvents(evs []query.EventSummary) []printer.Event {
	type series struct {
		typ, reason string
		first       time.Time
	}
	newest := map[series]uint64{}
	for _, e := range evs {
		if e.Count > 0 {
			k := series{e.Type, e.Reason, e.FirstTime}
			newest[k] = max(newest[k], e.Seq)
		}
	}
	out := make([]printer.Event, 0, len(evs))
	for _, e := range evs {
		if e.Count > 0 && newest[series{e.Type, e.Reason, e.FirstTime}] != e.Seq {
			continue
		}
		msg := e.Reason
		if msg == "" {
			msg = fmt.Sprintf("seq %d", e.Seq)
		} else {
			msg = fmt.Sprintf("%s (seq %d)", msg, e.Seq)
		}
		out = append(out, printer.Event{Time: e.Time, Type: e.Type, Actor: e.Actor, Message: msg, Count: e.Count, FirstTime: e.FirstTime})
	}
	return out
}
