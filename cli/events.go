package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/query"
)

type eventsFlags struct {
	forObj, kind, actor, typ string
	since                    time.Duration
	from, to                 string
	follow, rejected         bool
	output                   string
	allNamespaces            bool
}

func newEventsCmd(g *globals) *cobra.Command {
	var f eventsFlags
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the audit trail: every change, who made it, when and why",
		Long: `Show events from the log, oldest first. Every desired-state change is an event with
its actor (who), time, type (what) and reason (why). Without -n, events of every
namespace and of cluster-scoped objects are shown.

TIME is when the log stored the event (the writer's own claim is "claimed" in -o
json); --since, --from and --to compare with it. An event that did not take effect
(the object projection rejected it: a forged or stale change, a malformed event)
is marked in the REJECTED column; --rejected lists only those.`,
		Example: `  wake events
  wake events --for deploy/web
  wake events --kind pod -n shop --since 1h
  wake events --actor user:alice --type deployment.updated
  wake events --from 120 --to 2026-11-23T10:00:00Z -o json
  wake events --rejected -o wide
  wake events -f`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return g.events(cmd.Context(), &f) },
	}
	cmd.Flags().StringVar(&f.forObj, "for", "", "only events of this object (TYPE/NAME)")
	cmd.Flags().StringVar(&f.kind, "kind", "", "only events of objects of this type")
	cmd.Flags().StringVar(&f.actor, "actor", "", "only events appended by this actor (e.g. user:alice)")
	cmd.Flags().StringVar(&f.typ, "type", "", "only events of this type (e.g. deployment.updated) or type prefix (deployment.)")
	cmd.Flags().DurationVar(&f.since, "since", 0, "only events newer than this (e.g. 90s, 1h)")
	cmd.Flags().StringVar(&f.from, "from", "", "first event: a sequence number or an RFC 3339 time")
	cmd.Flags().StringVar(&f.to, "to", "", "last event: a sequence number or an RFC 3339 time")
	cmd.Flags().BoolVarP(&f.follow, "follow", "f", false, "keep printing new events as they are appended")
	cmd.Flags().BoolVar(&f.rejected, "rejected", false, "only events that did not take effect (rejected by the object projection)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output format: wide, or json (one event per line)")
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "events of every namespace (the default without -n)")
	return cmd
}

// bound is a --from or --to value: a sequence or a time.
type bound struct {
	seq uint64
	t   time.Time
}

func parseBound(flag, s string) (bound, error) {
	if s == "" {
		return bound{}, nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return bound{seq: n}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return bound{t: t}, nil
	}
	return bound{}, fmt.Errorf("--%s %q: give a sequence number or an RFC 3339 time such as 2026-11-23T10:00:00Z", flag, s)
}

func (g *globals) eventFilter(f *eventsFlags) (string, error) {
	ns := g.namespace
	if f.allNamespaces {
		ns = ""
	}
	if f.forObj != "" {
		kind, name, ok := strings.Cut(f.forObj, "/")
		if !ok || name == "" {
			return "", fmt.Errorf("--for %q: use TYPE/NAME, e.g. deploy/web", f.forObj)
		}
		k, err := object.Lookup(kind)
		if err != nil {
			return "", err
		}
		ref := events.Ref{Kind: k.Kind, Name: name}
		if k.Namespaced {
			ref.Namespace = g.ns()
		}
		return ref.Subject(), nil
	}
	if f.kind != "" {
		k, err := object.Lookup(f.kind)
		if err != nil {
			return "", err
		}
		return events.KindSubjects(k.Kind, ns, !k.Namespaced), nil
	}
	if ns != "" {
		return events.Prefix + ".*." + events.EncodeToken(ns) + ".*", nil
	}
	return events.AllSubjects, nil
}

func (g *globals) events(ctx context.Context, f *eventsFlags) error {
	switch f.output {
	case "", "wide", "json":
	default:
		return fmt.Errorf("--output %q: allowed formats are wide and json", f.output)
	}
	subject, err := g.eventFilter(f)
	if err != nil {
		return err
	}
	from, err := parseBound("from", f.from)
	if err != nil {
		return err
	}
	to, err := parseBound("to", f.to)
	if err != nil {
		return err
	}
	opts := events.ReadOptions{Subjects: []string{subject}, From: from.seq, Since: from.t, Bounded: !f.follow}
	if f.since > 0 {
		if s := time.Now().Add(-f.since); s.After(opts.Since) {
			opts.Since = s
		}
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	cur, err := c.Log.Read(ctx, opts)
	if err != nil {
		return err
	}
	defer cur.Close()
	// The events read before an interrupt are still printed, their causes and
	// rejections resolved: the resolvers outlive ctx's cancellation.
	rctx := context.WithoutCancel(ctx)
	p := newEventPrinter(g.out, g.errOut, f.output, causeResolver(rctx, c), rejectionResolver(rctx, c))
	p.onlyRejected = f.rejected
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) || ctx.Err() != nil {
			break
		}
		if err != nil {
			return err
		}
		if (to.seq > 0 && rec.Seq > to.seq) || (!to.t.IsZero() && rec.Time.After(to.t)) {
			if !f.follow {
				break
			}
			continue
		}
		ev, derr := rec.Decode()
		if !matchEvent(ev, derr, f) {
			continue
		}
		if err := p.print(rec, ev, derr); err != nil {
			return err
		}
		if f.follow {
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	if err := p.flush(); err != nil {
		return err
	}
	if p.printed == 0 && f.output != "json" {
		fmt.Fprintln(g.errOut, "No events found.")
	}
	return nil
}

// matchEvent applies --actor and --type. A malformed event has no actor or type
// anyone can vouch for: it matches neither filter.
func matchEvent(ev *events.Event, derr error, f *eventsFlags) bool {
	if derr != nil {
		return f.actor == "" && f.typ == ""
	}
	if f.actor != "" && ev.Actor != f.actor {
		return false
	}
	if f.typ != "" && ev.Type != f.typ && !(strings.HasSuffix(f.typ, ".") && strings.HasPrefix(ev.Type, f.typ)) {
		return false
	}
	return true
}

// eventPrinter prints events as a table or as JSON lines. The table shows each
// event's cause as the sequence of the causing event ("#41"); both forms mark
// the events the object projection rejected. Rows wait in a block until flush,
// which resolves the causes and rejections of the whole block at once.
type eventPrinter struct {
	w, errOut io.Writer
	tw        *tabwriter.Writer
	output    string
	header    bool
	resolve   func([]string) ([]uint64, error) // event ids -> sequences; nil: causes show as ids
	// rejections answers why each event was rejected ("" when it took
	// effect); nil or failing: rejections are unknown, and said so.
	rejections   func([]query.EventKey) ([]string, error)
	onlyRejected bool // print only rejected events (rejections must be known)
	warned       bool // the failure to learn rejections was reported
	printed      int
	known        map[string]uint64 // ids of events printed so far
	pending      []pendingEvent
}

type pendingEvent struct {
	rec      events.Record
	ev       *events.Event
	derr     error
	rejected string // why it was rejected; "" when it took effect
}

// eventBlock bounds how many rows wait for their causes; maxKnownEvents bounds
// the ids remembered to resolve causes without asking.
const (
	eventBlock     = 512
	maxKnownEvents = 100_000
)

func newEventPrinter(w, errOut io.Writer, output string, resolve func([]string) ([]uint64, error),
	rejections func([]query.EventKey) ([]string, error)) *eventPrinter {
	return &eventPrinter{w: w, errOut: errOut, output: output, tw: tabwriter.NewWriter(w, 6, 4, 3, ' ', 0),
		resolve: resolve, rejections: rejections, known: map[string]uint64{}}
}

// jsonEvent is the export form: the stored envelope plus its sequence and subject.
// Its time is when the log stored the event (the clock --from, --to and --since
// compare with; also in Stored); Claimed is the time the writer put in it.
type jsonEvent struct {
	Seq     uint64    `json:"seq"`
	Subject string    `json:"subject"`
	Stored  time.Time `json:"stored"`
	Claimed time.Time `json:"claimed,omitzero"`
	*events.Event
	// Rejected says why the object projection rejected the event (absent: it
	// took effect, or no answer came, which is reported on stderr).
	Rejected string `json:"rejected,omitempty"`
	Error    string `json:"error,omitempty"`
}

// rejectionUnknown marks an event whose fate the query service did not tell.
const rejectionUnknown = "<unknown>"

func (p *eventPrinter) print(rec events.Record, ev *events.Event, derr error) error {
	if ev != nil && p.output != "json" {
		if len(p.known) >= maxKnownEvents {
			clear(p.known) // older causes are asked of the query service
		}
		p.known[ev.ID] = rec.Seq
	}
	p.pending = append(p.pending, pendingEvent{rec: rec, ev: ev, derr: derr})
	if len(p.pending) >= eventBlock {
		return p.flush()
	}
	return nil
}

// rejected fills each pending event's rejection: a malformed event is rejected
// by every consumer; the others are asked of the query service. Without an
// answer they are marked unknown (an error with --rejected).
func (p *eventPrinter) rejected() error {
	var keys []query.EventKey
	var ask []int
	for i := range p.pending {
		pe := &p.pending[i]
		if pe.derr != nil {
			pe.rejected = pe.derr.Error()
			continue
		}
		keys = append(keys, query.EventKey{Seq: pe.rec.Seq, ID: pe.ev.ID})
		ask = append(ask, i)
	}
	if len(keys) == 0 {
		return nil
	}
	var answers []string
	err := errors.New("no query service to ask")
	if p.rejections != nil {
		answers, err = p.rejections(keys)
	}
	if err != nil {
		if p.onlyRejected {
			return fmt.Errorf("--rejected: cannot learn which events were rejected: %w", err)
		}
		if !p.warned {
			p.warned = true
			fmt.Fprintf(p.errOut, "Warning: cannot learn which events were rejected (REJECTED shows %s): %v\n", rejectionUnknown, err)
		}
		for _, i := range ask {
			p.pending[i].rejected = rejectionUnknown
		}
		return nil
	}
	for j, i := range ask {
		p.pending[i].rejected = answers[j]
	}
	return nil
}

// causes returns the sequence of each pending event's cause ("-" without one, the
// id itself when the log does not know it).
func (p *eventPrinter) causes() map[string]string {
	out := map[string]string{}
	var ask []string
	for _, pe := range p.pending {
		if pe.ev == nil || pe.ev.Cause == "" {
			continue
		}
		if seq, ok := p.known[pe.ev.Cause]; ok {
			out[pe.ev.Cause] = "#" + strconv.FormatUint(seq, 10)
		} else if _, asked := out[pe.ev.Cause]; !asked {
			out[pe.ev.Cause] = pe.ev.Cause
			ask = append(ask, pe.ev.Cause)
		}
	}
	if len(ask) > 0 && p.resolve != nil {
		if seqs, err := p.resolve(ask); err == nil {
			for i, id := range ask {
				if seqs[i] > 0 {
					p.known[id] = seqs[i]
					out[id] = "#" + strconv.FormatUint(seqs[i], 10)
				}
			}
		}
	}
	return out
}

func (p *eventPrinter) printJSON(pe pendingEvent) {
	je := jsonEvent{Seq: pe.rec.Seq, Subject: pe.rec.Subject, Stored: pe.rec.Time.UTC(), Event: pe.ev}
	if pe.rejected != rejectionUnknown {
		je.Rejected = pe.rejected
	}
	if pe.derr != nil {
		je.Event = &events.Event{}
		je.Error = pe.derr.Error()
	} else {
		je.Claimed = pe.ev.Claimed
	}
	data, _ := json.Marshal(je)
	fmt.Fprintln(p.w, string(data))
}

// rejectedMark is the REJECTED column: "yes", "-", or unknown.
func rejectedMark(why string) string {
	switch why {
	case "":
		return "-"
	case rejectionUnknown:
		return why
	}
	return "yes"
}

func (p *eventPrinter) printRow(pe pendingEvent, causes map[string]string) {
	rec, ev, derr := pe.rec, pe.ev, pe.derr
	if !p.header {
		p.header = true
		h := "SEQ\tTIME\tACTOR\tTYPE\tNAMESPACE\tOBJECT\tREJECTED\tCAUSE\tREASON"
		if p.output == "wide" {
			h += "\tID\tCAUSE-ID\tCORRELATION\tREJECTION"
		}
		fmt.Fprintln(p.tw, h)
	}
	if derr != nil {
		line := fmt.Sprintf("%d\t%s\t<malformed>\t<malformed>\t-\t%s\t%s\t-\t%s", rec.Seq, rec.Time.UTC().Format(time.RFC3339), rec.Subject, rejectedMark(pe.rejected), derr)
		if p.output == "wide" {
			line += "\t-\t-\t-\t" + dash(pe.rejected)
		}
		fmt.Fprintln(p.tw, line)
		return
	}
	obj := ev.Object.Kind + "/" + ev.Object.Name
	if k, ok := object.ByKind(ev.Object.Kind); ok {
		obj = k.Qualified(ev.Object.Name)
	}
	ns := ev.Object.Namespace
	if ns == "" {
		ns = "-"
	}
	cause := "-"
	if ev.Cause != "" {
		cause = causes[ev.Cause]
	}
	line := fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", rec.Seq, ev.Time.UTC().Format(time.RFC3339), ev.Actor, ev.Type, ns, obj,
		rejectedMark(pe.rejected), cause, dash(ev.Reason))
	if p.output == "wide" {
		line += fmt.Sprintf("\t%s\t%s\t%s\t%s", ev.ID, dash(ev.Cause), dash(ev.Correlation), dash(pe.rejected))
	}
	fmt.Fprintln(p.tw, line)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// flush prints the rows waiting for their causes and rejections.
func (p *eventPrinter) flush() error {
	if len(p.pending) > 0 {
		if err := p.rejected(); err != nil {
			return err
		}
		var causes map[string]string
		if p.output != "json" {
			causes = p.causes()
		}
		for _, pe := range p.pending {
			if p.onlyRejected && pe.rejected == "" {
				continue
			}
			p.printed++
			if p.output == "json" {
				p.printJSON(pe)
			} else {
				p.printRow(pe, causes)
			}
		}
		p.pending = p.pending[:0]
	}
	return p.tw.Flush()
}

// rejectionResolver asks the query service which events it rejected.
func rejectionResolver(ctx context.Context, c *client.Client) func([]query.EventKey) ([]string, error) {
	return func(keys []query.EventKey) ([]string, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return c.Query.Rejections(ctx, keys)
	}
}

// causeResolver asks the query service for the sequences of event ids.
func causeResolver(ctx context.Context, c *client.Client) func([]string) ([]uint64, error) {
	return func(ids []string) ([]uint64, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return c.Query.Seqs(ctx, ids)
	}
}
