package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/services/client"
)

// LogsOptions are the flags of `wake logs`.
type LogsOptions = client.LogsOptions

// Logs writes a container's log to w, as `wake logs` (see client.Client.Logs).
func Logs(ctx context.Context, c *client.Client, o LogsOptions, w io.Writer) error {
	return c.Logs(ctx, o, w)
}

func newLogsCmd(g *globals) *cobra.Command {
	o := LogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs POD [-c CONTAINER]",
		Short: "Print the logs of a container of a pod",
		Example: `  wake logs web-7d4f9
  wake logs web-7d4f9 -c sidecar --tail 20 -f
  wake logs web-7d4f9 --previous`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			o.Namespace, o.Pod = g.ns(), args[0]
			return Logs(ctx, c, o, g.out)
		},
	}
	cmd.Flags().StringVarP(&o.Container, "container", "c", "", "the container (default: the pod's only container)")
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep streaming the log as it grows")
	cmd.Flags().BoolVarP(&o.Previous, "previous", "p", false, "the log of the previous attempt of the container")
	cmd.Flags().Int64Var(&o.Tail, "tail", -1, "the number of last lines to show (-1: all)")
	return cmd
}
