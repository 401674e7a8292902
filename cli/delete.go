package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
)

func newDeleteCmd(g *globals) *cobra.Command {
	var ff fileFlags
	var selector string
	var ignoreMissing bool
	cmd := &cobra.Command{
		Use:   "delete TYPE NAME... | TYPE/NAME... | -f FILENAME | TYPE -l SELECTOR",
		Short: "Delete objects (deleting a namespace deletes everything in it)",
		RunE: func(cmd *cobra.Command, args []string) error {
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
			ctx := context.Background()
			if len(ff.files) == 0 {
				targets, err := parseTargets(args)
				if err != nil {
					return err
				}
				for _, t := range targets {
					if len(t.names) == 0 {
						if selector == "" {
							return fmt.Errorf("resource(s) were provided, but no name was specified (use NAME, -l SELECTOR or -f)")
						}
						objs, _, err := c.Query.List(ctx, t.kind, g.ns(), selector)
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
					if ignoreMissing && errors.Is(err, errNotFound) {
						continue
					}
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(g.out, "%s %q deleted\n", resourceName(it.kind), it.name)
			}
			if len(items) == 0 && selector != "" {
				fmt.Fprintln(g.errOut, "No resources found")
			}
			return joinNotFound(errs)
		},
	}
	ff.register(cmd, "delete")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "delete every object of the type matching this label selector")
	cmd.Flags().BoolVar(&ignoreMissing, "ignore-not-found", false, "treat missing objects as deleted")
	return cmd
}

// resourceName is kubectl's "deployment.apps" / "pod" in delete messages.
func resourceName(k *object.Kind) string {
	if k.Group == "" {
		return k.Token()
	}
	return k.Token() + "." + k.Group
}
