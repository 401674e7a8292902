package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/events/object/printer"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/query"
	"k8s.io/apimachinery/pkg/runtime"
)

func newDiffCmd(g *globals) *cobra.Command {
	var fromFlag, toFlag string
	cmd := &cobra.Command{
		Use:   "diff (TYPE NAME | TYPE/NAME) --from MOMENT [--to MOMENT]",
		Short: "Show what changed in an object between two moments, and who changed it",
		Long: `Show what changed in an object between two moments of the log, as a unified diff of
its YAML, followed by the events on the object in between: who changed it, when, and
with which command. A moment is a log sequence, an RFC 3339 time, or a duration ago.`,
		Example: `  wake diff deploy web --from 2h
  wake diff deploy/web --from 1200 --to 1450
  wake diff cm/settings --from 2026-11-23T09:00:00Z --to 2026-11-23T10:00:00Z`,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := parseTargets(args)
			if err != nil {
				return err
			}
			if len(targets) != 1 || len(targets[0].names) != 1 {
				return errors.New("diff compares one object: TYPE NAME or TYPE/NAME")
			}
			if fromFlag == "" {
				return errors.New("--from is required: a log sequence, an RFC 3339 time or a duration ago")
			}
			now := time.Now()
			from, err := parseAt("from", fromFlag, now)
			if err != nil {
				return err
			}
			to, err := parseAt("to", toFlag, now)
			if err != nil {
				return err
			}
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			return diffObject(cmd.Context(), g, c, targets[0].kind, targets[0].names[0], from, to)
		},
	}
	cmd.Flags().StringVar(&fromFlag, "from", "", "the earlier moment (required): a log sequence (1234), an RFC 3339 time or a duration ago (2h)")
	cmd.Flags().StringVar(&toFlag, "to", "", "the later moment (default now), in the same forms as --from")
	return cmd
}

// objectAt is the YAML of an object at a moment ("" when it did not exist) and
// the sequence the answer reflects.
func objectAt(ctx context.Context, c *client.Client, k *object.Kind, ns, name string, at query.At) (string, uint64, error) {
	st, seq, err := c.Query.GetAt(ctx, k, ns, name, at)
	if errors.Is(err, query.ErrNotFound) {
		return "", seq, nil
	}
	if err != nil {
		return "", 0, err
	}
	var buf strings.Builder
	if err := printer.Print(&buf, []runtime.Object{st.Object}, printer.Options{Output: "yaml"}); err != nil {
		return "", 0, err
	}
	return buf.String(), seq, nil
}

func diffObject(ctx context.Context, g *globals, c *client.Client, k *object.Kind, name string, from, to query.At) error {
	ns := ""
	if k.Namespaced {
		ns = g.ns()
	}
	before, fromSeq, err := objectAt(ctx, c, k, ns, name, from)
	if err != nil {
		return err
	}
	after, toSeq, err := objectAt(ctx, c, k, ns, name, to)
	if err != nil {
		return err
	}
	if toSeq < fromSeq {
		return fmt.Errorf("--to (sequence %d) is before --from (sequence %d)", toSeq, fromSeq)
	}
	if before == "" && after == "" {
		return fmt.Errorf("%s did not exist at sequence %d nor at sequence %d", k.Qualified(name), fromSeq, toSeq)
	}
	label := func(seq uint64, at query.At) string {
		return fmt.Sprintf("%s at sequence %d%s", k.Qualified(name), seq, atSuffix(momentOf(ctx, c, at, seq)))
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(before), B: difflib.SplitLines(after),
		FromFile: label(fromSeq, from), ToFile: label(toSeq, to), Context: 3,
	})
	if err != nil {
		return err
	}
	if text == "" {
		fmt.Fprintf(g.out, "%s is the same at sequences %d and %d\n", k.Qualified(name), fromSeq, toSeq)
	} else {
		fmt.Fprint(g.out, text)
	}
	return changesBetween(ctx, g.out, g.errOut, c, events.Ref{Kind: k.Kind, Namespace: ns, Name: name}, fromSeq, toSeq)
}

// changesBetween prints the events on the object's own subject after from, up to
// and including to: who changed it.
func changesBetween(ctx context.Context, w, errOut io.Writer, c *client.Client, ref events.Ref, from, to uint64) error {
	if to <= from {
		return nil
	}
	cur, err := c.Log.Read(ctx, events.ReadOptions{Subjects: []string{ref.Subject()}, From: from + 1, Bounded: true})
	if err != nil {
		return err
	}
	defer cur.Close()
	p := newEventPrinter(w, errOut, "", causeResolver(ctx, c), rejectionResolver(ctx, c))
	n := 0
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) || (err == nil && rec.Seq > to) {
			break
		}
		if err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintln(w, "\nChanged by:")
		}
		n++
		ev, derr := rec.Decode()
		if err := p.print(rec, ev, derr); err != nil {
			return err
		}
	}
	return p.flush()
}
