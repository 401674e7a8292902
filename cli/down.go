package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/node/teardown"
)

func newDownCmd(g *globals) *cobra.Command {
	var dataDir, stateDir, socket, namespace, bridge, podCIDR string
	var grace int
	var force, purge bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop this node's pods, network and private containerd (after Ctrl-C on wake up); --purge also removes the data",
		Long: `Stop everything "wake up" or "wake agent" left running on this machine: every pod of
the node (within its grace period), their networks and namespaces, the bridge and its
iptables rules, and the private containerd with its shims. Host settings wake changed
(net.ipv4.ip_forward) are put back. With --purge the data directory is removed too.

Run it after stopping wake (Ctrl-C), with the flags wake ran with. It refuses while a
wake process holds the data directory: that process would restart the pods.`,
		Example: `  wake down
  wake down --purge
  wake down --grace-period 5
  wake down --data-dir /tmp/wake --bridge wake1 --pod-cidr 10.89.0.0/24 --purge`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("wake down needs root: it unmounts namespaces and removes links and iptables rules (run it with sudo)")
			}
			cfg := teardown.Config{DataDir: dataDir, StateDir: stateDir, Socket: socket, Namespace: namespace,
				Bridge: bridge, PodCIDR: podCIDR, Purge: purge,
				Printf: func(format string, args ...any) { fmt.Fprintf(g.out, format+"\n", args...) }}
			switch {
			case force && cmd.Flags().Changed("grace-period") && grace != 0:
				return fmt.Errorf("--force stops pods at once: it cannot be given with --grace-period %d", grace)
			case force:
				d := time.Duration(0)
				cfg.GracePeriod = &d
			case grace == 0:
				// As kubectl: 0 without --force is the shortest graceful stop.
				d := time.Second
				cfg.GracePeriod = &d
			case grace > 0:
				d := time.Duration(grace) * time.Second
				cfg.GracePeriod = &d
			case grace < -1:
				return fmt.Errorf("--grace-period %d: use seconds (>= 0), or -1 for each pod's own", grace)
			}
			if cfg.StateDir == "" {
				cfg.StateDir = defaultStateDir(dataDir)
			}
			ctx := cmd.Context()
			n, err := teardown.Run(ctx, cfg)
			var inUse *teardown.InUseError
			if errors.As(err, &inUse) {
				return fmt.Errorf("%v: stop it first (Ctrl-C on wake up, or kill %s), then run wake down again", err, inUse.PID)
			}
			if err != nil {
				return err
			}
			if n == 0 {
				fmt.Fprintf(g.out, "nothing to stop: no pod, network, containerd or data of wake is left for %s\n", cfg.StateDir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "the data directory wake up ran with")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "the agent state directory (default <data-dir>/agent, or <data-dir>/agent/<hostname> as wake agent makes it)")
	cmd.Flags().StringVar(&socket, "containerd-socket", "", "the containerd socket the agent used (default: its private containerd, which is stopped)")
	cmd.Flags().StringVar(&namespace, "containerd-namespace", "wake", "containerd namespace of this node's containers")
	cmd.Flags().StringVar(&podCIDR, "pod-cidr", "10.88.0.0/24", "addresses of this node's pods")
	cmd.Flags().StringVar(&bridge, "bridge", "wake0", "the Linux bridge this node's pods attach to")
	cmd.Flags().IntVar(&grace, "grace-period", -1, "seconds each pod may take to stop, replacing its terminationGracePeriodSeconds (-1: each pod's own)")
	cmd.Flags().BoolVar(&force, "force", false, "kill the pods at once (SIGKILL), without a grace period")
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the data directory, the agent state and the images")
	return cmd
}

// defaultStateDir is where wake up (<data-dir>/agent) or wake agent
// (/var/lib/wake/agent/<node>) kept the agent's state.
func defaultStateDir(dataDir string) string {
	state := filepath.Join(dataDir, "agent")
	for _, mark := range []string{"runtime", "containerd", "projection"} {
		if _, err := os.Stat(filepath.Join(state, mark)); err == nil {
			return state
		}
	}
	if h, err := os.Hostname(); err == nil {
		if node := filepath.Join(state, strings.ToLower(h)); dirExists(node) {
			return node
		}
	}
	return state
}

func dirExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
