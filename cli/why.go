package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/query"
)

func newWhyCmd(g *globals) *cobra.Command {
	var output, atFlag string
	cmd := &cobra.Command{
		Use:   "why (TYPE NAME | TYPE/NAME)",
		Short: "Explain an object's current state: the chain of events, each caused by the one below it",
		Long: `Explain an object's current state. wake starts at the newest event on the object
(its deletion, if it is gone) and follows each event's cause to the event that caused
it, down to one with no cause: usually a command that a person ran. Every step shows
its sequence, time, actor, type, object and reason, and its event id.`,
		Example: `  wake why pod web-7f689cf658-x8pzd
  wake why deploy/web -o json
  wake why rs/web-7f689cf658 --at 2h`,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := parseTargets(args)
			if err != nil {
				return err
			}
			if len(targets) != 1 || len(targets[0].names) != 1 {
				return fmt.Errorf("why explains one object: TYPE NAME or TYPE/NAME")
			}
			switch output {
			case "", "json":
			default:
				return fmt.Errorf("--output %q: allowed formats are json", output)
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
			k, name := targets[0].kind, targets[0].names[0]
			steps, note, err := c.Query.Why(cmd.Context(), k.Kind, g.ns(), name, at)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(g.out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Steps []query.Step `json:"steps"`
					Note  string       `json:"note,omitempty"`
				}{steps, note})
			}
			printWhy(g, k, name, steps, note)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	cmd.Flags().StringVar(&atFlag, "at", "", atHelp)
	return cmd
}

func printWhy(g *globals, k *object.Kind, name string, steps []query.Step, note string) {
	fmt.Fprintf(g.out, "%s", k.Qualified(name))
	if k.Namespaced {
		fmt.Fprintf(g.out, " in namespace %s", g.ns())
	}
	fmt.Fprintln(g.out, " is as it is because:")
	for i, st := range steps {
		lead := "  "
		if i > 0 {
			lead = "  ← "
		}
		obj := st.Object.Kind + "/" + st.Object.Name
		if sk, ok := object.ByKind(st.Object.Kind); ok {
			obj = sk.Qualified(st.Object.Name)
		}
		if st.Object.Node != "" {
			obj += " (on node " + st.Object.Node + ")"
		}
		fmt.Fprintf(g.out, "%s#%d  %s  %s %s by %s  [%s]\n", lead, st.Seq, st.Time.UTC().Format(time.RFC3339), obj, whyVerb(st), st.Actor, st.Type)
		const indent = "        "
		if st.Reason != "" {
			fmt.Fprintf(g.out, "%sreason: %s\n", indent, st.Reason)
		}
		if st.Detail != "" {
			fmt.Fprintf(g.out, "%s%s\n", indent, st.Detail)
		}
		fmt.Fprintf(g.out, "%sevent %s", indent, st.ID)
		if st.Cause != "" {
			fmt.Fprintf(g.out, ", caused by %s", st.Cause)
		}
		fmt.Fprintln(g.out)
	}
	if note != "" {
		fmt.Fprintf(g.out, "  (%s)\n", note)
	}
}

// whyVerb is the past participle of the event type's verb, for reading aloud:
// "pod.bound" -> "bound".
func whyVerb(st query.Step) string {
	_, verb, _ := strings.Cut(st.Type, ".")
	if verb == "" {
		return "changed"
	}
	return verb
}
