package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func newScaleCmd(g *globals) *cobra.Command {
	var replicas int32 = -1
	cmd := &cobra.Command{
		Use:     "scale TYPE NAME --replicas=N | TYPE/NAME --replicas=N",
		Short:   "Set the number of replicas of a Deployment or ReplicaSet",
		Example: "  wake scale deploy/web --replicas=5",
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("replicas") {
				return errors.New("--replicas is required")
			}
			targets, err := parseTargets(args)
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
					return errors.New("scale needs a name: TYPE NAME or TYPE/NAME")
				}
				for _, n := range t.names {
					if err := c.Scale(cmd.Context(), t.kind, g.ns(), n, replicas); err != nil {
						return err
					}
					fmt.Fprintf(g.out, "%s scaled\n", t.kind.Qualified(n))
				}
			}
			return nil
		},
	}
	cmd.Flags().Int32Var(&replicas, "replicas", -1, "the new number of replicas (required)")
	return cmd
}
