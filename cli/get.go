package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/events/object/printer"
	"github.com/wake-run/wake/services/client"
	"k8s.io/apimachinery/pkg/runtime"
)

type getFlags struct {
	output        string
	selector      string
	allNamespaces bool
	watch         bool
	showLabels    bool
	noHeaders     bool
	ignoreMissing bool
	at            string
}

func newGetCmd(g *globals) *cobra.Command {
	var f getFlags
	cmd := &cobra.Command{
		Use:   "get TYPE[,TYPE...] [NAME...] | TYPE/NAME...",
		Short: "Display one or many objects, as kubectl get",
		Example: `  wake get pods -o wide
  wake get deploy web -o yaml
  wake get svc,cm -A -l app=web
  wake get deploy -w
  wake get deploy web -o yaml --at 2h        # as it was two hours ago
  wake get pods -A --at 1234                 # after the event with sequence 1234`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.get(cmd, args, &f)
		},
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output format: wide, yaml, json or name")
	cmd.Flags().StringVarP(&f.selector, "selector", "l", "", "label selector (e.g. app=web, tier in (a,b), !canary)")
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	cmd.Flags().BoolVarP(&f.watch, "watch", "w", false, "after listing, watch for changes")
	cmd.Flags().BoolVar(&f.showLabels, "show-labels", false, "show all labels as the last column")
	cmd.Flags().BoolVar(&f.noHeaders, "no-headers", false, "do not print headers")
	cmd.Flags().BoolVar(&f.ignoreMissing, "ignore-not-found", false, "treat a missing named object as an empty result")
	cmd.Flags().StringVar(&f.at, "at", "", atHelp)
	return cmd
}

func (g *globals) get(cmd *cobra.Command, args []string, f *getFlags) error {
	targets, err := parseTargets(args)
	if err != nil {
		return err
	}
	switch f.output {
	case "", "wide", "yaml", "json", "name":
	default:
		return fmt.Errorf("--output %q: allowed formats are wide, yaml, json, name", f.output)
	}
	at, err := parseAt("at", f.at, time.Now())
	if err != nil {
		return err
	}
	if f.watch && !at.IsZero() {
		return errors.New("--watch follows changes from now on; it cannot be combined with --at")
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	ns := g.ns()
	if f.allNamespaces {
		ns = ""
	}
	opts := printer.Options{Output: f.output, AllNamespaces: f.allNamespaces, ShowLabels: f.showLabels, NoHeaders: f.noHeaders}
	if f.watch {
		if len(targets) != 1 || len(targets[0].names) > 1 {
			return fmt.Errorf("--watch follows one resource type or one object (TYPE, TYPE NAME or TYPE/NAME); %d were given", watchCount(targets))
		}
		if len(targets[0].names) == 1 {
			return g.watchObject(cmd.Context(), c, targets[0].kind, targets[0].names[0], opts)
		}
		return g.watch(cmd.Context(), c, targets[0].kind, ns, f, opts)
	}
	ctx := cmd.Context()
	var objs []runtime.Object
	var errs []error
	named := false
	var seq uint64
	for _, t := range targets {
		if len(t.names) == 0 {
			list, cp, err := c.Query.ListAt(ctx, t.kind, ns, f.selector, at)
			if err != nil {
				return err
			}
			seq = cp
			for _, o := range list {
				objs = append(objs, o)
				if why, ok := o.GetAnnotations()[object.UnreadableAnnotation]; ok {
					fmt.Fprintf(g.errOut, "Warning: %s %s/%s cannot be read: %s\n", t.kind.Resource, o.GetNamespace(), o.GetName(), why)
				}
			}
			continue
		}
		named = true
		for _, name := range t.names {
			st, cp, err := c.Query.GetAt(ctx, t.kind, g.ns(), name, at)
			seq = cp
			if err != nil {
				if f.ignoreMissing && errors.Is(err, errNotFound) {
					continue
				}
				errs = append(errs, err)
				continue
			}
			objs = append(objs, st.Object)
		}
	}
	// As kubectl: one named object prints as itself, a list request as a List.
	opts.List = !named
	if !at.IsZero() {
		opts.Now = momentOf(ctx, c, at, seq)
		fmt.Fprintf(g.errOut, "As of sequence %d%s:\n", seq, atSuffix(opts.Now))
	}
	if len(objs) > 0 || f.output == "yaml" || f.output == "json" {
		if !(len(objs) == 0 && named) {
			if err := printer.Print(g.out, objs, opts); err != nil {
				return err
			}
		}
	}
	if len(objs) == 0 && !named && f.output != "yaml" && f.output != "json" {
		fmt.Fprintln(g.errOut, printer.NoResourcesMessage(ns, f.allNamespaces, !targets[0].kind.Namespaced))
	}
	return joinNotFound(errs)
}

// watchCount is how many collections and objects targets name, for --watch's error.
func watchCount(targets []target) int {
	n := 0
	for _, t := range targets {
		n += max(1, len(t.names))
	}
	return n
}

// watchObject prints one object, then a row for each of its changes, as
// kubectl get TYPE NAME --watch does.
func (g *globals) watchObject(ctx context.Context, c *client.Client, k *object.Kind, name string, opts printer.Options) error {
	return c.WatchObject(ctx, k, g.ns(), name, func(obj object.Object) error {
		return printer.Print(g.out, []runtime.Object{obj}, opts)
	}, func(typ string, obj object.Object) error {
		o := opts
		if o.Output == "" || o.Output == "wide" {
			o.NoHeaders = true
		}
		o.Now = time.Now()
		return printer.Print(g.out, []runtime.Object{obj}, o)
	})
}

func (g *globals) watch(ctx context.Context, c *client.Client, k *object.Kind, ns string, f *getFlags, opts printer.Options) error {
	headerDone := false
	return c.Watch(ctx, k, ns, f.selector, func(objs []object.Object) error {
		var ros []runtime.Object
		for _, o := range objs {
			ros = append(ros, o)
		}
		if len(ros) == 0 {
			fmt.Fprintln(g.errOut, printer.NoResourcesMessage(ns, f.allNamespaces, !k.Namespaced))
			return nil
		}
		headerDone = true
		return printer.Print(g.out, ros, opts)
	}, func(typ string, obj object.Object) error {
		o := opts
		if headerDone && (o.Output == "" || o.Output == "wide") {
			o.NoHeaders = true
		}
		headerDone = true
		o.Now = time.Now()
		return printer.Print(g.out, []runtime.Object{obj}, o)
	})
}
