package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newSetCmd(g *globals) *cobra.Command {
	set := &cobra.Command{
		Use:   "set",
		Short: "Change one field of an object, as kubectl set",
	}
	set.AddCommand(&cobra.Command{
		Use:   "image (TYPE NAME | TYPE/NAME) CONTAINER=IMAGE [CONTAINER=IMAGE...]",
		Short: "Set the image of containers in a Deployment's or ReplicaSet's pod template",
		Example: `  wake set image deploy/web web=wake.local/hostname-web:2
  wake set image deployment web '*=registry.local/web:2'   # every container`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var objs, pairs []string
			for _, a := range args {
				if strings.Contains(a, "=") {
					pairs = append(pairs, a)
				} else if len(pairs) > 0 {
					return fmt.Errorf("%q: give the object first, then CONTAINER=IMAGE pairs", a)
				} else {
					objs = append(objs, a)
				}
			}
			if len(pairs) == 0 {
				return errors.New("set image needs at least one CONTAINER=IMAGE")
			}
			images := map[string]string{}
			for _, p := range pairs {
				name, img, _ := strings.Cut(p, "=")
				if name == "" || img == "" {
					return fmt.Errorf("%q: use CONTAINER=IMAGE (or *=IMAGE for every container)", p)
				}
				images[name] = img
			}
			targets, err := parseTargets(objs)
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
					return errors.New("set image needs a name: TYPE NAME or TYPE/NAME")
				}
				for _, n := range t.names {
					if err := c.SetImage(cmd.Context(), t.kind, g.ns(), n, images); err != nil {
						return err
					}
					fmt.Fprintf(g.out, "%s image updated\n", t.kind.Qualified(n))
				}
			}
			return nil
		},
	})
	return set
}
