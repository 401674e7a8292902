package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
)

func newDeleteCmd(g *globals) *cobra.Command {
	var ff fileFlags
	var selector string
	var ignoreMissing, all, allNamespaces bool
	cmd := &cobra.Command{
		Use:   "delete TYPE NAME... | TYPE/NAME... | -f FILENAME | TYPE -l SELECTOR | TYPE --all",
		Short: "Delete objects (deleting a namespace deletes everything in it)",
		Example: `  wake delete deploy web
  wake delete -f web.yaml
  wake delete pods -l app=web
  wake delete deploy --all          # every deployment of the namespace
  wake delete pods --all -A         # every pod of every namespace`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDeleteScope(args, len(ff.files) > 0, selector, all, allNamespaces); err != nil {
				return err
			}
			ns := g.ns()
			if allNamespaces {
				ns = ""
			}
			type item struct {
				kind      *object.Kind
				namespace string
				name      string
			}
			var items []item
			if len(ff.files) > 0 {
				if len(args) > 0 {
					return errors.New("give either -f or TYPE NAME, not both")
				}
				docs, err := ff.readManifests(cmd.InOrStdin())
				if err != nil {
					return err
				}
				for _, d := range docs {
					ns := d.Object.GetNamespace()
					if ns == "" {
						ns = g.ns()
					}
					items = append(items, item{d.Kind, ns, d.Object.GetName()})
				}
			}
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			if len(ff.files) == 0 {
				targets, err := parseTargets(args)
				if err != nil {
					return err
				}
				for _, t := range targets {
					if len(t.names) == 0 {
						if selector == "" && !all {
							return fmt.Errorf("resource(s) were provided, but no name was specified (use NAME, -l SELECTOR, --all or -f)")
						}
						objs, _, err := c.Query.List(ctx, t.kind, ns, selector)
						if err != nil {
							return err
						}
						for _, o := range objs {
							items = append(items, item{t.kind, o.GetNamespace(), o.GetName()})
						}
						continue
					}
					for _, n := range t.names {
						items = append(items, item{t.kind, g.ns(), n})
					}
				}
			}
			var errs []error
			for _, it := range items {
				err := c.Delete(ctx, it.kind, it.namespace, it.name)
				if err != nil {
					// An object listed for --all or -l may be gone by now: deleted, as asked.
					if (ignoreMissing || all || selector != "") && errors.Is(err, errNotFound) {
						continue
					}
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(g.out, "%s %q deleted\n", resourceName(it.kind), it.name)
			}
			if len(items) == 0 && (selector != "" || all) {
				fmt.Fprintln(g.out, "No resources found")
			}
			return joinNotFound(errs)
		},
	}
	ff.register(cmd, "delete")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "delete every object of the type matching this label selector")
	cmd.Flags().BoolVar(&ignoreMissing, "ignore-not-found", false, "treat missing objects as deleted (always so with --all and -l)")
	cmd.Flags().BoolVar(&all, "all", false, "delete every object of the type in the namespace (every namespace with -A)")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "with --all or -l, delete across all namespaces (-n is ignored)")
	return cmd
}

// checkDeleteScope refuses the combinations of delete's ways of choosing
// objects that kubectl refuses: --all with names, files or a selector, and -A
// without --all or -l.
func checkDeleteScope(args []string, files bool, selector string, all, allNamespaces bool) error {
	named := len(args) > 1 || (len(args) == 1 && strings.Contains(args[0], "/"))
	switch {
	case all && files:
		return errors.New("--all deletes every object of a type: give TYPE --all, not -f")
	case all && named:
		return fmt.Errorf("--all deletes every object of a type and cannot be given with names (%s): use TYPE NAME... or TYPE --all", strings.Join(args, " "))
	case all && selector != "":
		return errors.New("--all and --selector cannot be used together: --all deletes every object of the type, -l only those matching")
	case allNamespaces && !all && selector == "":
		return errors.New("--all-namespaces applies to --all and -l SELECTOR; a named object is deleted in the namespace of -n")
	}
	return nil
}

// resourceName is kubectl's "deployment.apps" / "pod" in delete messages.
func resourceName(k *object.Kind) string {
	if k.Group == "" {
		return k.Token()
	}
	return k.Token() + "." + k.Group
}
