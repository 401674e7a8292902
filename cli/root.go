// Package cli is the wake command tree. Commands are thin: they parse flags, call
// a package that does the work, and print through the shared printer.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/wake-run/wake/services/client"
)

// Version is set at build time (-ldflags "-X github.com/wake-run/wake/cli.Version=...").
var Version = "v0.1.0-dev"

type globals struct {
	server    string
	creds     string // --credentials
	namespace string
	as        string
	out       io.Writer
	errOut    io.Writer
	// command is the command line being run, recorded as the reason of events.
	command string
}

// NewRoot returns the wake command tree writing to out and errOut.
func NewRoot(out, errOut io.Writer) *cobra.Command {
	g := &globals{out: out, errOut: errOut}
	root := &cobra.Command{
		Use:   "wake",
		Short: "wake runs containers from Kubernetes manifests, with every change on an event log",
		Long: `wake runs containerised applications from the Kubernetes manifests you already have.
Every change is an event on NATS JetStream: who changed what, when and why is always
one command away.

Start a cluster with "wake up"; then use apply, get, describe, delete and events as
you would use kubectl.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			g.command = commandLine(cmd, args)
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().StringVar(&g.server, "server", "", "NATS URL(s) of the wake server, comma-separated (default $WAKE_SERVER or "+client.DefaultServer+")")
	root.PersistentFlags().StringVar(&g.creds, "credentials", "", "credential file to sign in with (default $WAKE_CREDENTIALS, else ~/.config/wake/credentials, else admin.creds in the default data directory)")
	root.PersistentFlags().StringVarP(&g.namespace, "namespace", "n", "", "namespace of the request (default \"default\")")
	root.PersistentFlags().StringVar(&g.as, "as", "", "the user to act as, recorded as the actor of your changes (default: your login; until permissions land, the server trusts this name)")
	root.AddCommand(
		newServerCmd(g, "server"), newServerCmd(g, "up"), newDownCmd(g),
		newApplyCmd(g), newCreateCmd(g), newReplaceCmd(g),
		newGetCmd(g), newDescribeCmd(g), newDeleteCmd(g), newScaleCmd(g),
		newEventsCmd(g), newVersionCmd(g), newReplayCmd(g), newProjectionsCmd(g),
		imageCmd(g), newAgentCmd(g),
		newLogsCmd(g), newExecCmd(g), newPortForwardCmd(g), newSetCmd(g), newWhyCmd(g), newDiffCmd(g), newDashboardCmd(g),
		newRolloutCmd(g), newExposeCmd(g),
	)
	return root
}

// connect dials the server and records the command line as the reason of every
// event appended.
func (g *globals) connect() (*client.Client, error) {
	c, err := client.Connect(g.server, g.credentials())
	if err != nil {
		return nil, err
	}
	c.Reason = g.command
	if g.as != "" {
		if strings.ContainsAny(g.as, " \t\n") {
			return nil, fmt.Errorf("--as %q: a user name has no spaces", g.as)
		}
		c.Actor = "user:" + strings.TrimPrefix(g.as, "user:")
	}
	return c, nil
}

// commandLine reconstructs what the person ran: the command path, the flags they
// set (not --server) and the arguments.
func commandLine(cmd *cobra.Command, args []string) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name == "server" || f.Name == "credentials" {
			return
		}
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand
		}
		if f.Value.Type() == "bool" {
			if f.Value.String() == "true" {
				parts = append(parts, name)
			}
			return
		}
		for _, v := range flagValues(f) {
			parts = append(parts, name, v)
		}
	})
	parts = append(parts, args...)
	s := strings.Join(parts, " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func flagValues(f *pflag.Flag) []string {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.GetSlice()
	}
	return []string{f.Value.String()}
}

func (g *globals) ns() string {
	if g.namespace == "" {
		return "default"
	}
	return g.namespace
}

// Main runs the command line and returns the process exit code. Signals are
// handled here and nowhere else: the first SIGINT or SIGTERM ends the command's
// context (cmd.Context()), so a long-running command stops gracefully and a
// request in flight is abandoned; further signals are ignored until it returns.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runMain(ctx, args, os.Stdout, os.Stderr)
}

// runMain runs the command line with ctx as every command's context and returns
// the process exit code.
func runMain(ctx context.Context, args []string, out, errOut io.Writer) int {
	root := NewRoot(out, errOut)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			fmt.Fprintf(errOut, "command terminated with exit code %d\n", ee.Code)
			return ee.Code
		}
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return 130 // interrupted: what a shell reports for a command SIGINT ended
		}
		fmt.Fprintln(errOut, formatError(err))
		return 1
	}
	return 0
}

func imageCmd(g *globals) *cobra.Command {
	cmd := NewImageCmd()
	cmd.AddCommand(newImageImportCmd(g), newImageListCmd(g))
	return cmd
}
