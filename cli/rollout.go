package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/events/object/printer"
	"github.com/wake-run/wake/services/client"
	appsv1 "k8s.io/api/apps/v1"
)

func newRolloutCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout SUBCOMMAND",
		Short: "Manage the rollout of a Deployment, as kubectl rollout",
		Long: `Manage the rollout of a Deployment: watch it (status), list its revisions
(history), go back to one (undo), pause and resume it, or restart its pods.

Beyond kubectl: rollout history shows who made each revision and when, from the
event log, and keeps revisions whose ReplicaSets were pruned. A Deployment
annotated wake.run/rollback-on-failure: "true" is rolled back by the controller
when a rollout passes its progressDeadlineSeconds (off by default, as Kubernetes).`,
	}
	cmd.AddCommand(newRolloutStatusCmd(g), newRolloutHistoryCmd(g), newRolloutUndoCmd(g),
		newRolloutPauseCmd(g, true), newRolloutPauseCmd(g, false), newRolloutRestartCmd(g))
	return cmd
}

// deploymentTargets resolves TYPE NAME | TYPE/NAME to Deployment names.
func deploymentTargets(verb string, args []string) ([]string, error) {
	targets, err := parseTargets(args)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range targets {
		if t.kind.Kind != "Deployment" {
			return nil, fmt.Errorf("rollout %s works on deployments, not %s", verb, t.kind.Resource)
		}
		if len(t.names) == 0 {
			return nil, fmt.Errorf("rollout %s needs a name: deployment NAME or deployment/NAME", verb)
		}
		names = append(names, t.names...)
	}
	return names, nil
}

var deployKind, _ = object.ByKind("Deployment")

// eachDeployment runs fn for each Deployment the arguments name, on one
// connection, and prints kubectl's "deployment.apps/NAME <outcome>" line for
// each non-empty outcome fn returns.
func eachDeployment(cmd *cobra.Command, g *globals, verb string, args []string, fn func(ctx context.Context, c *client.Client, name string) (string, error)) error {
	names, err := deploymentTargets(verb, args)
	if err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	for _, name := range names {
		outcome, err := fn(cmd.Context(), c, name)
		if err != nil {
			return err
		}
		if outcome != "" {
			fmt.Fprintf(g.out, "%s %s\n", deployKind.Qualified(name), outcome)
		}
	}
	return nil
}

// rolloutStatus is kubectl's DeploymentStatusViewer: the line to print, whether
// the rollout is done, and the error that ends the wait.
func rolloutStatus(d *appsv1.Deployment) (string, bool, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...\n", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
		}
	}
	st := d.Status
	switch {
	case d.Spec.Replicas != nil && st.UpdatedReplicas < *d.Spec.Replicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", d.Name, st.UpdatedReplicas, *d.Spec.Replicas), false, nil
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", d.Name, st.Replicas-st.UpdatedReplicas), false, nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", d.Name, st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out\n", d.Name), true, nil
}

// errTimedOut is kubectl's error when --timeout ends the wait.
var errTimedOut = errors.New("timed out waiting for the condition")

func newRolloutStatusCmd(g *globals) *cobra.Command {
	var watch bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status (TYPE NAME | TYPE/NAME)",
		Short: "Show the status of the rollout",
		Long: `Show the status of the rollout.

By default 'rollout status' watches the status of the latest rollout until it's
done, printing kubectl's progress lines, and fails when the rollout passes its
progress deadline or --timeout ends the wait. Use --watch=false not to wait.`,
		Example: "  wake rollout status deploy/web\n  wake rollout status deploy/web --timeout=2m",
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := deploymentTargets("status", args)
			if err != nil {
				return err
			}
			if len(names) != 1 {
				return fmt.Errorf("rollout status is only supported on individual resources and resource collections - %d resources were found", len(names))
			}
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return watchRollout(ctx, c, g.out, g.ns(), names[0], watch)
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", true, "Watch the status of the rollout until it's done.")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "The length of time to wait before ending watch, zero means never (e.g. 1s, 2m, 3h).")
	return cmd
}

// errDone ends a watch whose rollout finished.
var errDone = errors.New("done")

// watchRollout prints the rollout's status as it changes (a line repeated by an
// unrelated change is not printed again) until it is done, fails, or ctx ends.
func watchRollout(ctx context.Context, c *client.Client, out io.Writer, ns, name string, watch bool) error {
	last := ""
	step := func(obj object.Object) error {
		line, done, err := rolloutStatus(obj.(*appsv1.Deployment))
		if err != nil {
			return err
		}
		if line != last {
			fmt.Fprint(out, line)
			last = line
		}
		if done || !watch {
			return errDone
		}
		return nil
	}
	err := c.WatchObject(ctx, deployKind, ns, name, step, func(typ string, obj object.Object) error {
		if typ == "DELETED" {
			return errors.New("object has been deleted")
		}
		return step(obj)
	})
	switch {
	case errors.Is(err, errDone):
		return nil
	case err != nil:
		return err
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return errTimedOut
	}
	return ctx.Err()
}

func newRolloutHistoryCmd(g *globals) *cobra.Command {
	var revision int64
	cmd := &cobra.Command{
		Use:   "history (TYPE NAME | TYPE/NAME) [--revision=N]",
		Short: "View rollout history",
		Long: `View the revisions of a Deployment, as kubectl rollout history, and beyond
it who made each revision and when (from the event log), and the revisions whose
ReplicaSets were pruned by revisionHistoryLimit or renumbered by a rollback.
--revision=N prints the pod template of revision N.`,
		Example: "  wake rollout history deploy/web\n  wake rollout history deploy/web --revision=3",
		RunE: func(cmd *cobra.Command, args []string) error {
			if revision < 0 {
				return fmt.Errorf("revision must be a positive integer: %v", revision)
			}
			return eachDeployment(cmd, g, "history", args, func(ctx context.Context, c *client.Client, name string) (string, error) {
				return "", rolloutHistory(ctx, c, g.out, g.ns(), name, revision)
			})
		},
	}
	cmd.Flags().Int64Var(&revision, "revision", 0, "See the details, including podTemplate of the revision specified")
	return cmd
}

func rolloutHistory(ctx context.Context, c *client.Client, out io.Writer, ns, name string, revision int64) error {
	st, err := c.Query.Get(ctx, deployKind, ns, name)
	if err != nil {
		return err
	}
	d := st.Object.(*appsv1.Deployment)
	if revision > 0 {
		revs, err := c.Revisions(ctx, d)
		if err != nil {
			return err
		}
		for _, r := range revs {
			if r.Number == revision {
				t := r.ReplicaSet.Spec.Template.DeepCopy()
				if cause := r.ReplicaSet.Annotations[client.ChangeCauseAnnotation]; cause != "" {
					if t.Annotations == nil {
						t.Annotations = map[string]string{}
					}
					t.Annotations[client.ChangeCauseAnnotation] = cause
				}
				fmt.Fprintf(out, "%s with revision #%d\n", deployKind.Qualified(name), revision)
				if err := printer.DescribePodTemplate(out, t); err != nil {
					return err
				}
				fmt.Fprintln(out)
				return nil
			}
		}
		return errors.New("unable to find the specified revision")
	}
	hist, err := c.History(ctx, d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s \n", deployKind.Qualified(name))
	if len(hist) == 0 {
		fmt.Fprintln(out, "No rollout history found.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tCHANGE-CAUSE\tBY\tAT\tREPLICASET")
	for _, h := range hist {
		cause := h.ChangeCause
		if cause == "" {
			cause = "<none>"
		}
		by, at := h.By, "<unknown>"
		if by == "" {
			by = "<unknown>"
		} else {
			at = h.At.UTC().Format(time.RFC3339)
		}
		rs := h.ReplicaSet
		if !h.Live {
			rs += " (gone)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", h.Revision, strings.ReplaceAll(cause, "\t", " "), by, at, rs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return nil
}

func newRolloutUndoCmd(g *globals) *cobra.Command {
	var to int64
	cmd := &cobra.Command{
		Use:     "undo (TYPE NAME | TYPE/NAME) [--to-revision=N]",
		Short:   "Undo a previous rollout",
		Long:    "Roll back to a previous revision: the one before the newest, or --to-revision=N.",
		Example: "  wake rollout undo deploy/web\n  wake rollout undo deploy/web --to-revision=3",
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachDeployment(cmd, g, "undo", args, func(ctx context.Context, c *client.Client, name string) (string, error) {
				return c.Undo(ctx, g.ns(), name, to)
			})
		},
	}
	cmd.Flags().Int64Var(&to, "to-revision", 0, "The revision to rollback to. Default to 0 (last revision).")
	return cmd
}

func newRolloutPauseCmd(g *globals, pause bool) *cobra.Command {
	verb, done, short := "resume", "resumed", "Resume a paused resource"
	if pause {
		verb, done, short = "pause", "paused", "Mark the provided resource as paused"
	}
	return &cobra.Command{
		Use:     verb + " RESOURCE",
		Short:   short,
		Example: "  wake rollout " + verb + " deploy/web",
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachDeployment(cmd, g, verb, args, func(ctx context.Context, c *client.Client, name string) (string, error) {
				return done, c.SetPaused(ctx, g.ns(), name, pause)
			})
		},
	}
}

func newRolloutRestartCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "restart RESOURCE",
		Short:   "Restart a resource",
		Long:    "Restart the pods of a Deployment by its strategy: sets kubectl.kubernetes.io/restartedAt on its pod template.",
		Example: "  wake rollout restart deploy/web",
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachDeployment(cmd, g, "restart", args, func(ctx context.Context, c *client.Client, name string) (string, error) {
				return "restarted", c.Restart(ctx, g.ns(), name, time.Now())
			})
		},
	}
}
