package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/services/dashboard"
	"github.com/wake-run/wake/services/hostguard"
)

// DefaultDashboardAddr is where `wake dashboard` serves the page unless told
// otherwise (the server's own dashboard is on 4280).
const DefaultDashboardAddr = "127.0.0.1:4281"

func newDashboardCmd(g *globals) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the live dashboard of a cluster on this machine and print its URL",
		Long: `Serve the live dashboard (nodes, deployments, pods, services, endpoints and
events, updated as they change; pod logs; a timeline of the past) of the
cluster at --server, on a local port. A running "wake server" serves the same page
on its own web address.`,
		Example: `  wake dashboard
  wake dashboard --addr 127.0.0.1:0 --server nats://10.0.0.5:4222`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			d, err := dashboard.New(c.NC)
			if err != nil {
				return err
			}
			defer d.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr %s: %w (choose another address, or 127.0.0.1:0 for a free port)", addr, err)
			}
			srv := &http.Server{Handler: hostguard.Wrap(d, addr, ln.Addr()), ReadHeaderTimeout: 10 * time.Second}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			fmt.Fprintf(g.out, "dashboard of %s at http://%s/\n", c.NC.ConnectedUrlRedacted(), ln.Addr())
			fmt.Fprintln(g.out, "Press Ctrl-C to stop.")
			ctx := cmd.Context() // ends at SIGINT or SIGTERM (see Main)
			select {
			case <-ctx.Done():
			case err := <-served:
				return fmt.Errorf("dashboard on %s: %w", ln.Addr(), err)
			}
			d.Close() // end live streams first: Shutdown waits for them
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				_ = srv.Close()
			}
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", DefaultDashboardAddr, "address to serve the dashboard on (127.0.0.1:0 picks a free port)")
	return cmd
}
