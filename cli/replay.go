package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/controlplane"
)

func newReplayCmd(g *globals) *cobra.Command {
	var fromLog bool
	cmd := &cobra.Command{
		Use:   "replay PROJECTION",
		Short: "Delete a projection and rebuild it from its newest snapshot and the log (see `wake projections`)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			req, _ := json.Marshal(controlplane.ReplayRequest{Name: args[0], FromLog: fromLog})
			msg, err := c.NC.Request(controlplane.SubjectProjectionReplay, req, 30*time.Minute)
			if err != nil {
				return fmt.Errorf("no server runs a projection named %q (see `wake projections`): %v", args[0], err)
			}
			var res controlplane.ReplayResult
			if err := json.Unmarshal(msg.Data, &res); err != nil {
				return err
			}
			if res.Error != "" {
				return fmt.Errorf("%s", res.Error)
			}
			rate := float64(res.Folded) / res.Duration.Seconds()
			from := "the start of the log"
			if res.Snapshot > 0 {
				from = fmt.Sprintf("the snapshot at sequence %d", res.Snapshot)
			}
			fmt.Fprintf(g.out, "projection %s rebuilt to sequence %d from %s: %d events folded in %s (%.0f events/s)\n",
				res.Name, res.Events, from, res.Folded, res.Duration.Round(time.Millisecond), rate)
			return nil
		},
	}
	cmd.Flags().BoolVar(&fromLog, "from-log", false, "ignore snapshots: fold every event from sequence 1")
	return cmd
}

func newSnapshotCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot PROJECTION",
		Short: "Write a snapshot of a projection now (servers also take one every 10,000 events)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			req, _ := json.Marshal(controlplane.ReplayRequest{Name: args[0]})
			msg, err := c.NC.Request(controlplane.SubjectProjectionSnapshot, req, 10*time.Minute)
			if err != nil {
				return fmt.Errorf("no server runs a projection named %q (see `wake projections`): %v", args[0], err)
			}
			var res controlplane.SnapshotResult
			if err := json.Unmarshal(msg.Data, &res); err != nil {
				return err
			}
			if res.Error != "" {
				return fmt.Errorf("snapshot %s: %s", args[0], res.Error)
			}
			fmt.Fprintf(g.out, "projection %s: snapshot at sequence %d, %d keys, %d bytes, in %s\n",
				res.Projection, res.Seq, res.Keys, res.Size, res.Duration.Round(time.Millisecond))
			return nil
		},
	}
}

func newProjectionsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "projections",
		Short: "List projections with their checkpoint and rejected events",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			msg, err := c.NC.Request(controlplane.SubjectProjectionStatus, nil, 5*time.Second)
			if err != nil {
				return fmt.Errorf("projection status: %v", err)
			}
			var sts []projections.Status
			if err := json.Unmarshal(msg.Data, &sts); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.out, 6, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCHECKPOINT\tFOLDED\tREJECTED\tSNAPSHOT\tDIR")
			for _, s := range sts {
				snap := "-"
				if s.LastSnapshot > 0 {
					snap = fmt.Sprint(s.LastSnapshot)
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", s.Name, s.Checkpoint, s.Folded, s.Rejected, snap, s.Dir)
			}
			tw.Flush()
			for _, s := range sts {
				for _, r := range s.Recent {
					fmt.Fprintf(g.out, "rejected by %s: seq %d on %s: %s\n", s.Name, r.Seq, r.Subject, r.Error)
				}
			}
			return nil
		},
	}
	cmd.AddCommand(newSnapshotCmd(g))
	return cmd
}
