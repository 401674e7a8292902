package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
)

type fileFlags struct {
	files     []string
	recursive bool
}

func (f *fileFlags) register(cmd *cobra.Command, verb string) {
	cmd.Flags().StringSliceVarP(&f.files, "filename", "f", nil, "file, directory or - (stdin) with the manifests to "+verb)
	cmd.Flags().BoolVarP(&f.recursive, "recursive", "R", false, "process the directory used in -f recursively")
}

// readManifests decodes every document of every file first: if any is refused,
// nothing is written.
func (f *fileFlags) readManifests(stdin io.Reader) ([]object.Document, error) {
	if len(f.files) == 0 {
		return nil, errors.New("must specify one of -f and -k (wake supports -f FILE|DIR|-)")
	}
	var docs []object.Document
	var errs []error
	for _, name := range f.files {
		paths, err := expand(name, f.recursive)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			var data []byte
			if p == "-" {
				data, err = io.ReadAll(stdin)
			} else {
				data, err = os.ReadFile(p)
			}
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
			ds, err := object.Decode(p, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			docs = append(docs, ds...)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w\nnothing was applied", errors.Join(errs...))
	}
	if len(docs) == 0 {
		return nil, errors.New("no objects passed to apply")
	}
	return docs, nil
}

// expand turns a -f argument into files: a directory gives its .yaml, .yml and .json
// files in name order.
func expand(name string, recursive bool) ([]string, error) {
	if name == "-" {
		return []string{"-"}, nil
	}
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("the path %q does not exist", name)
	}
	if !st.IsDir() {
		return []string{name}, nil
	}
	var out []string
	err = filepath.WalkDir(name, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != name && !recursive {
			return filepath.SkipDir
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				out = append(out, p)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func newApplyCmd(g *globals) *cobra.Command {
	return newWriteCmd(g, "apply", client.ModeApply, "Create or update objects from manifests (three-way merge, as kubectl apply)")
}

func newReplaceCmd(g *globals) *cobra.Command {
	return newWriteCmd(g, "replace", client.ModeReplace, "Replace existing objects with the manifests' metadata and spec")
}

func newWriteCmd(g *globals, use string, mode client.Mode, short string) *cobra.Command {
	var ff fileFlags
	cmd := &cobra.Command{
		Use:   use + " -f FILENAME",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.write(cmd, &ff, mode)
		},
	}
	ff.register(cmd, use)
	return cmd
}

func (g *globals) write(cmd *cobra.Command, ff *fileFlags, mode client.Mode) error {
	docs, err := ff.readManifests(cmd.InOrStdin())
	if err != nil {
		return err
	}
	if err := client.SetNamespace(docs, g.namespace, g.namespace != ""); err != nil {
		return err
	}
	for _, d := range docs {
		for _, w := range d.Warnings {
			fmt.Fprintf(g.errOut, "Warning: %s: %s\n", d.Kind.Qualified(d.Object.GetName()), w)
		}
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	var errs []error
	for i := range docs {
		res, err := c.Write(cmd.Context(), &docs[i], mode)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.out, res.String())
	}
	return errors.Join(errs...)
}
