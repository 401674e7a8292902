package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/services/client"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func newSetCmd(g *globals) *cobra.Command {
	set := &cobra.Command{
		Use:   "set",
		Short: "Change one field of an object, as kubectl set",
	}
	set.AddCommand(newSetImageCmd(g), newSetEnvCmd(g), newSetResourcesCmd(g))
	return set
}

// splitObjectsAndPairs splits args into the objects (first) and the KEY=VALUE
// arguments after them; isPair says which is which.
func splitObjectsAndPairs(args []string, isPair func(string) bool, what string) (objs, pairs []string, err error) {
	for _, a := range args {
		if isPair(a) {
			pairs = append(pairs, a)
		} else if len(pairs) > 0 {
			return nil, nil, fmt.Errorf("%q: give the object first, then %s", a, what)
		} else {
			objs = append(objs, a)
		}
	}
	return objs, pairs, nil
}

// recordCause is the change cause --record writes: the command line without
// --record, as kubectl records it.
func recordCause(g *globals, record bool) string {
	if !record {
		return ""
	}
	return strings.Replace(g.command, " --record", "", 1)
}

// eachTarget runs fn for every named object of args.
func eachTarget(g *globals, cmd *cobra.Command, verb string, objs []string, fn func(c *client.Client, t target, name string) error) error {
	targets, err := parseTargets(objs)
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	for _, t := range targets {
		if len(t.names) == 0 {
			return fmt.Errorf("set %s needs a name: TYPE NAME or TYPE/NAME", verb)
		}
		for _, n := range t.names {
			if err := fn(c, t, n); err != nil && !errors.Is(err, client.ErrUnchanged) {
				return err
			}
		}
	}
	return nil
}

func newSetImageCmd(g *globals) *cobra.Command {
	var record bool
	cmd := &cobra.Command{
		Use:   "image (TYPE NAME | TYPE/NAME) CONTAINER=IMAGE [CONTAINER=IMAGE...]",
		Short: "Set the image of containers in a Deployment's or ReplicaSet's pod template",
		Example: `  wake set image deploy/web web=wake.local/hostname-web:2
  wake set image deployment web '*=registry.local/web:2'   # every container
  wake set image deploy/web web=wake.local/hostname-web:2 --record`,
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, pairs, err := splitObjectsAndPairs(args, func(a string) bool { return strings.Contains(a, "=") }, "CONTAINER=IMAGE pairs")
			if err != nil {
				return err
			}
			if len(pairs) == 0 {
				return errors.New("set image needs at least one CONTAINER=IMAGE")
			}
			images := map[string]string{}
			for _, p := range pairs {
				name, img, _ := strings.Cut(p, "=")
				if name == "" || img == "" {
					return fmt.Errorf("%q: use CONTAINER=IMAGE (or *=IMAGE for every container)", p)
				}
				images[name] = img
			}
			return eachTarget(g, cmd, "image", objs, func(c *client.Client, t target, n string) error {
				var err error
				if record {
					err = c.UpdateTemplate(cmd.Context(), t.kind, g.ns(), n, recordCause(g, record), func(tmpl *corev1.PodTemplateSpec) (bool, error) {
						return client.SetImages(&tmpl.Spec, images)
					})
				} else {
					err = c.SetImage(cmd.Context(), t.kind, g.ns(), n, images)
				}
				if err == nil || errors.Is(err, client.ErrUnchanged) {
					fmt.Fprintf(g.out, "%s image updated\n", t.kind.Qualified(n))
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&record, "record", false, "Record the command line as the object's kubernetes.io/change-cause (shown by rollout history)")
	return cmd
}

func newSetEnvCmd(g *globals) *cobra.Command {
	var container string
	var envs []string
	cmd := &cobra.Command{
		Use:   "env (TYPE NAME | TYPE/NAME) KEY_1=VAL_1 ... KEY_N=VAL_N | KEY-",
		Short: "Update environment variables on a pod template",
		Long: `Update environment variables on a Deployment's or ReplicaSet's pod template:
KEY=VALUE sets a variable, KEY- removes it. -c picks the containers ("*": all).`,
		Example: `  wake set env deploy/web STORAGE_DIR=/local
  wake set env deploy/web -c web STORAGE_DIR-`,
		RunE: func(cmd *cobra.Command, args []string) error {
			isPair := func(a string) bool { return strings.Contains(a, "=") || strings.HasSuffix(a, "-") }
			objs, pairs, err := splitObjectsAndPairs(args, isPair, "KEY=VALUE or KEY- arguments")
			if err != nil {
				return err
			}
			pairs = append(pairs, envs...)
			if len(pairs) == 0 {
				return errors.New("at least one environment variable must be provided")
			}
			var set []corev1.EnvVar
			var remove []string
			for _, p := range pairs {
				if name, ok := strings.CutSuffix(p, "-"); ok && !strings.Contains(p, "=") {
					remove = append(remove, name)
					continue
				}
				name, value, _ := strings.Cut(p, "=")
				if name == "" || strings.ContainsAny(name, " \t") {
					return fmt.Errorf("invalid environment variable %q: use KEY=VALUE or KEY-", p)
				}
				set = append(set, corev1.EnvVar{Name: name, Value: value})
			}
			return eachTarget(g, cmd, "env", objs, func(c *client.Client, t target, n string) error {
				err := c.SetEnv(cmd.Context(), t.kind, g.ns(), n, container, set, remove, "")
				if err == nil || errors.Is(err, client.ErrUnchanged) {
					fmt.Fprintf(g.out, "%s env updated\n", t.kind.Qualified(n))
				}
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&container, "containers", "c", "*", "The names of containers in the selected pod templates to change - may use wildcards")
	cmd.Flags().StringArrayVarP(&envs, "env", "e", nil, "Specify a key-value pair for an environment variable to set into each container.")
	return cmd
}

func newSetResourcesCmd(g *globals) *cobra.Command {
	var container, limits, requests string
	var record bool
	cmd := &cobra.Command{
		Use:   "resources (TYPE NAME | TYPE/NAME) [--limits=...] [--requests=...]",
		Short: "Update resource requests/limits on a pod template",
		Example: `  wake set resources deploy/web -c web --limits=cpu=200m,memory=512Mi
  wake set resources deploy/web --requests=cpu=100m --record`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limits == "" && requests == "" {
				return errors.New("you must specify an update to requests or limits (in the form of --requests/--limits)")
			}
			lim, err := parseResourceList(limits)
			if err != nil {
				return fmt.Errorf("--limits: %w", err)
			}
			req, err := parseResourceList(requests)
			if err != nil {
				return fmt.Errorf("--requests: %w", err)
			}
			return eachTarget(g, cmd, "resources", args, func(c *client.Client, t target, n string) error {
				err := c.SetResources(cmd.Context(), t.kind, g.ns(), n, container, lim, req, recordCause(g, record))
				if err == nil || errors.Is(err, client.ErrUnchanged) {
					fmt.Fprintf(g.out, "%s resource requirements updated\n", t.kind.Qualified(n))
				}
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&container, "containers", "c", "*", "The names of containers in the selected pod templates to change, all containers are selected by default")
	cmd.Flags().StringVar(&limits, "limits", "", "The resource requirement limits for this container.  For example, 'cpu=200m,memory=512Mi'.")
	cmd.Flags().StringVar(&requests, "requests", "", "The resource requirement requests for this container.  For example, 'cpu=100m,memory=256Mi'.")
	cmd.Flags().BoolVar(&record, "record", false, "Record the command line as the object's kubernetes.io/change-cause (shown by rollout history)")
	return cmd
}

// parseResourceList parses "cpu=200m,memory=512Mi" as kubectl does.
func parseResourceList(s string) (corev1.ResourceList, error) {
	if s == "" {
		return nil, nil
	}
	out := corev1.ResourceList{}
	for _, kv := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: use NAME=QUANTITY, e.g. cpu=200m,memory=512Mi", kv)
		}
		q, err := resource.ParseQuantity(value)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %v", name, value, err)
		}
		out[corev1.ResourceName(name)] = q
	}
	return out, nil
}
