package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/node/api"
	"github.com/wake-run/wake/services/client"
)

// nodesFor returns the named node, or every registered node.
func nodesFor(ctx context.Context, c *client.Client, node string) ([]string, error) {
	if node != "" {
		return []string{node}, nil
	}
	k, _ := object.ByKind("Node")
	objs, _, err := c.Query.List(ctx, k, "", "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.GetName())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no nodes are registered (start `wake up` or `wake agent`)")
	}
	return out, nil
}

func askNode(ctx context.Context, c *client.Client, subject string, data []byte) (api.ImageReply, error) {
	var r api.ImageReply
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	msg, err := c.NC.RequestWithContext(ctx, subject, data)
	if err != nil {
		return r, fmt.Errorf("%s: %v", subject, err)
	}
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return r, err
	}
	if r.Error != "" {
		return r, fmt.Errorf("node %s: %s", r.Node, r.Error)
	}
	return r, nil
}

func newImageImportCmd(g *globals) *cobra.Command {
	var node string
	cmd := &cobra.Command{
		Use:     "import FILE.tar",
		Short:   "Make the images of an archive (OCI layout or docker-archive) available on nodes",
		Example: "  wake image build --demo -o demo.tar && wake image import demo.tar",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			nodes, err := nodesFor(cmd.Context(), c, node)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				r, err := askNode(cmd.Context(), c, api.ImageImportSubject(n), data)
				if err != nil {
					return err
				}
				for _, img := range r.Images {
					fmt.Fprintf(g.out, "%s: imported %s (%s)\n", n, img.Ref, img.Digest)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&node, "node", "", "import on this node only (default: every node)")
	return cmd
}

func newImageListCmd(g *globals) *cobra.Command {
	var node string
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the images of nodes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			nodes, err := nodesFor(cmd.Context(), c, node)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.out, 6, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NODE\tIMAGE\tDIGEST\tSIZE")
			for _, n := range nodes {
				r, err := askNode(cmd.Context(), c, api.ImageListSubject(n), nil)
				if err != nil {
					return err
				}
				for _, img := range r.Images {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fMB\n", n, img.Ref, shortDigest(img.Digest), float64(img.Size)/1e6)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&node, "node", "", "this node only (default: every node)")
	return cmd
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
