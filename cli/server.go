package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/wake-run/wake/node/agent"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/servicenet"
)

// shutdownGrace bounds how long `wake up` and `wake server` take to stop once
// interrupted or failed, whatever the state of the log: the node's workers, the
// projections and NATS all end with their context, and this is the backstop.
const shutdownGrace = 15 * time.Second

// serverStarted, when set (by tests), is given the control plane once it runs.
var serverStarted func(*controlplane.Server)

// shutdownWithin runs stop and reports whether it returned within grace (when it
// does not, it is left running: the process is about to exit).
func shutdownWithin(grace time.Duration, stop func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		stop()
	}()
	select {
	case <-done:
		return true
	case <-time.After(grace):
		return false
	}
}

// defaultDataDir is /var/lib/wake for root and ~/.local/share/wake otherwise.
func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/wake"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "wake")
	}
	return "wake-data"
}

func newServerCmd(g *globals, use string) *cobra.Command {
	var dataDir, host, logLevel, httpAddr, serviceCIDR string
	var port int
	var nodeGrace time.Duration
	var insecureNoAuth bool
	var af agentFlags
	short := "Run the control plane: embedded NATS JetStream and every control-plane service"
	if use == "up" {
		short = "Run an all-in-one cluster on this machine: the control plane and a node agent"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(g.errOut, &slog.HandlerOptions{Level: level}))
			if use == "up" {
				serviceCIDR = af.serviceCIDR // one flag for the control plane and its node
				if err := af.preflight(); err != nil {
					return err
				}
				if err := disjointCIDRs(serviceCIDR, af.podCIDR); err != nil {
					return err
				}
			}
			// cmd.Context() ends at the first SIGINT or SIGTERM (see Main).
			ctx, stop := context.WithCancel(cmd.Context()) // also ended when the server or the node fails
			defer stop()
			start := time.Now()
			srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: dataDir, Host: host, Port: port, Logger: logger, NodeGrace: nodeGrace, HTTPAddr: httpAddr,
				InsecureNoAuth: insecureNoAuth, ServiceCIDR: serviceCIDR})
			if err != nil {
				return err
			}
			if serverStarted != nil {
				serverStarted(srv)
			}
			userCreds := ""
			if !insecureNoAuth {
				// Without the copy, commands still take --credentials.
				if userCreds, err = installAdminCredential(srv.AdminCredentials()); err != nil {
					logger.Warn("the admin credential was not copied for this user", "err", err)
					userCreds = ""
				}
			}
			var agentDone chan error
			if use == "up" {
				cfg, err := af.config(logger)
				if err != nil {
					srv.Shutdown()
					return err
				}
				if cfg.StateDir == "" {
					cfg.StateDir = filepath.Join(srv.DataDir(), "agent")
				}
				cfg.Metrics = srv.Metrics() // one /metrics for both
				// The agent signs in as a node, as on any other machine.
				nc, err := srv.ConnectInProcess(srv.NodeCredentials(), nats.Name("wake-agent"), nats.MaxReconnects(-1))
				if err != nil {
					srv.Shutdown()
					return fmt.Errorf("node agent: %w", err)
				}
				defer nc.Close()
				a, err := agent.Start(ctx, nc, cfg)
				if err != nil {
					srv.Shutdown()
					return fmt.Errorf("node agent: %w", err)
				}
				agentDone = make(chan error, 1)
				go func() { agentDone <- a.Run(ctx) }()
				fmt.Fprintf(g.out, "wake up %s: control plane and node %q are running (ready in %s)\n", Version, a.NodeName(), time.Since(start).Round(time.Millisecond))
			} else {
				fmt.Fprintf(g.out, "wake server %s is running (ready in %s)\n", Version, time.Since(start).Round(time.Millisecond))
			}
			fmt.Fprintf(g.out, "  listening on  %s\n", srv.ClientURL())
			fmt.Fprintf(g.out, "  data in       %s\n", srv.DataDir())
			if insecureNoAuth {
				fmt.Fprintf(g.out, "  credentials   NONE: --insecure-no-auth lets anyone who reaches %s act as admin and delete the log\n", srv.ClientURL())
			} else {
				if userCreds != "" {
					fmt.Fprintf(g.out, "  credentials   %s (admin; copy of %s)\n", userCreds, srv.AdminCredentials())
				} else {
					fmt.Fprintf(g.out, "  credentials   %s (admin)\n", srv.AdminCredentials())
				}
				fmt.Fprintf(g.out, "                %s (for wake agent --credentials on other machines)\n", srv.NodeCredentials())
			}
			if u := srv.HTTPURL(); u != "" {
				fmt.Fprintf(g.out, "  dashboard     %s/\n", u)
				fmt.Fprintf(g.out, "  metrics       %s/metrics\n", u)
			}
			fmt.Fprintf(g.out, "  try           wake image build --demo -o demo.tar && wake image import demo.tar\n")
			fmt.Fprintf(g.out, "                wake apply -f deploy/examples/web.yaml && wake get pods -o wide\n")
			fmt.Fprintf(g.out, "Press Ctrl-C to stop (pods keep running and are adopted at the next start; wake down stops them).\n")
			var failed error
			select {
			case <-ctx.Done():
			case failed = <-srv.Failed():
			case failed = <-agentDone: // nil channel for `wake server`
				agentDone = nil
			}
			stop()
			fmt.Fprintln(g.out, "shutting down...")
			if !shutdownWithin(shutdownGrace, func() {
				if agentDone != nil {
					if err := <-agentDone; err != nil && failed == nil {
						failed = err
					}
				}
				srv.Shutdown()
			}) {
				return fmt.Errorf("did not stop within %s; exiting anyway", shutdownGrace)
			}
			if failed != nil {
				return fmt.Errorf("stopped: %w", failed)
			}
			fmt.Fprintln(g.out, "stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "directory for the log (JetStream) and projections (Pebble)")
	cmd.Flags().IntVar(&port, "port", 4222, "NATS client port")
	cmd.Flags().StringVar(&host, "host", "127.0.0.1", "address to listen on (0.0.0.0 to accept other machines)")
	cmd.Flags().StringVar(&httpAddr, "http", controlplane.DefaultHTTPAddr, "address of the dashboard and /metrics (127.0.0.1:0 picks a free port; off disables them)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	if use != "up" { // up takes the node's --service-cidr (agentFlags) for both
		cmd.Flags().StringVar(&serviceCIDR, "service-cidr", servicenet.DefaultCIDR, "where Services' cluster IPs come from (the cluster DNS Service gets the 10th address); must not overlap pod CIDRs")
	}
	cmd.Flags().DurationVar(&nodeGrace, "node-grace", 20*time.Second, "how long a node may miss heartbeats before it is NotReady and its pods are replaced elsewhere")
	cmd.Flags().BoolVar(&insecureNoAuth, "insecure-no-auth", false, "INSECURE: accept clients without credentials; anyone who reaches the port may act as admin and delete the log (default false: admin.creds and node.creds in --data-dir)")
	if use == "up" {
		af.register(cmd)
	}
	return cmd
}

// disjointCIDRs refuses a service CIDR that overlaps the node's pod CIDR: a
// cluster IP would shadow a pod's address.
func disjointCIDRs(serviceCIDR, podCIDR string) error {
	svc, err := netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return fmt.Errorf("--service-cidr %q: not a CIDR such as %s", serviceCIDR, servicenet.DefaultCIDR)
	}
	pods, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return fmt.Errorf("--pod-cidr %q: not a CIDR such as 10.88.0.0/24", podCIDR)
	}
	if svc.Overlaps(pods) {
		return fmt.Errorf("--service-cidr %s overlaps --pod-cidr %s: choose ranges that do not share addresses", serviceCIDR, podCIDR)
	}
	return nil
}
