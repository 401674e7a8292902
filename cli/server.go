package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/services/controlplane"
)

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
	var dataDir, host, logLevel string
	var port int
	short := "Run the control plane: embedded NATS JetStream and every control-plane service"
	if use == "up" {
		short = "Run an all-in-one cluster on this machine (today: the control plane; the node agent joins it in a later release)"
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
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			srv, err := controlplane.Start(ctx, controlplane.Config{DataDir: dataDir, Host: host, Port: port, Logger: logger})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.out, "wake %s %s is running (ready in %s)\n", use, Version, time.Since(start).Round(time.Millisecond))
			fmt.Fprintf(g.out, "  listening on  %s\n", srv.ClientURL())
			fmt.Fprintf(g.out, "  data in       %s\n", srv.DataDir())
			fmt.Fprintf(g.out, "  try           wake apply -f deploy/examples/web.yaml && wake get deploy\n")
			fmt.Fprintf(g.out, "Press Ctrl-C to stop.\n")
			<-ctx.Done()
			fmt.Fprintln(g.out, "shutting down...")
			srv.Shutdown()
			fmt.Fprintln(g.out, "stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "directory for the log (JetStream) and projections (Pebble)")
	cmd.Flags().IntVar(&port, "port", 4222, "NATS client port")
	cmd.Flags().StringVar(&host, "host", "127.0.0.1", "address to listen on (0.0.0.0 to accept other machines)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}
