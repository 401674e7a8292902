package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newCreateCmd(g *globals) *cobra.Command {
	var ff fileFlags
	cmd := &cobra.Command{
		Use:   "create -f FILENAME",
		Short: "Create objects from manifests; fails for objects that already exist",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.write(cmd, &ff, client.ModeCreate)
		},
	}
	ff.register(cmd, "create")
	cmd.AddCommand(&cobra.Command{
		Use:     "namespace NAME",
		Aliases: []string{"ns"},
		Short:   "Create a namespace",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: args[0]}}
			ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
			raw, _ := json.Marshal(ns)
			docs, err := object.Decode("namespace "+args[0], raw)
			if err != nil {
				return err
			}
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.Write(cmd.Context(), &docs[0], client.ModeCreate)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.out, res.String())
			return nil
		},
	})
	cmd.AddCommand(newCreateConfigMapCmd(g), newCreateSecretCmd(g), newCreateServiceCmd(g))
	return cmd
}
