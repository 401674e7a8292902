package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/node/image"
)

// NewImageCmd returns `wake image`: build image archives from local files and
// inspect them. Node-side subcommands (import, ls) are added beside these.
func NewImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build and inspect image archives (no registry needed)",
	}
	cmd.AddCommand(newImageBuildCmd(), newImageInspectCmd())
	return cmd
}

type imageBuildFlags struct {
	demo       bool
	output     string
	names      []string
	files      []string
	entrypoint []string
	cmd        []string
	env        []string
	workdir    string
	user       string
	ports      []string
	labels     []string
	platform   string
}

func newImageBuildCmd() *cobra.Command {
	var f imageBuildFlags
	cmd := &cobra.Command{
		Use:   "build (--demo | --name REF --file SRC:DST[:MODE]...) -o FILE.tar",
		Short: "Build OCI images from local files into an archive containerd and docker load",
		Long: `Build images of one layer from local files and write them to FILE.tar, an OCI image
layout that is also a docker-archive: "wake image import", "ctr images import" and
"docker load" all take it. Names are normalised (busybox -> docker.io/library/busybox:latest).

--demo builds wake's demo images: wake.local/hostname-web:1 (compiled from
deploy/images/hostname-web with the local go) and docker.io/library/busybox:1.35
(from Debian's busybox-static).`,
		Example: `  wake image build --demo -o demo-images.tar
  wake image build --name example.org/team/app:1 --file ./app:/app:0755 \
      --entrypoint /app --env MODE=prod --port 8080 -o app.tar`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImageBuild(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.demo, "demo", false, "build the demo images (hostname-web and busybox) instead of --name/--file")
	fl.StringVarP(&f.output, "output", "o", "", "archive to write (required)")
	fl.StringArrayVar(&f.names, "name", nil, "reference of the image, repeatable for several names (e.g. example.org/team/app:1)")
	fl.StringArrayVar(&f.files, "file", nil, "SRC:DST[:MODE]: host file or directory SRC at absolute path DST, octal MODE (default: the source's), repeatable")
	fl.StringArrayVar(&f.entrypoint, "entrypoint", nil, "entrypoint, one argument per flag (--entrypoint /app --entrypoint -v)")
	fl.StringArrayVar(&f.cmd, "cmd", nil, "default command or arguments, one per flag")
	fl.StringArrayVar(&f.env, "env", nil, "KEY=VALUE environment variable, repeatable (PATH defaults to the usual one)")
	fl.StringVar(&f.workdir, "workdir", "", "working directory (default /)")
	fl.StringVar(&f.user, "user", "", "user to run as, e.g. 65534 (default root)")
	fl.StringArrayVar(&f.ports, "port", nil, "exposed port, N or N/tcp|udp|sctp, repeatable")
	fl.StringArrayVar(&f.labels, "label", nil, "KEY=VALUE image label, repeatable")
	fl.StringVar(&f.platform, "platform", "", "os/arch the files are built for (default linux/ and this machine's arch)")
	return cmd
}

func runImageBuild(ctx context.Context, out io.Writer, f imageBuildFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.output == "" {
		return errors.New("-o FILE.tar is required")
	}
	var imgs map[string]v1.Image
	var err error
	if f.demo {
		if len(f.names)+len(f.files)+len(f.entrypoint)+len(f.cmd)+len(f.env)+len(f.ports)+len(f.labels) > 0 || f.workdir != "" || f.user != "" || f.platform != "" {
			return errors.New("--demo builds fixed images: it takes no --name, --file or config flags")
		}
		imgs, err = images.Demo(ctx, "")
	} else {
		imgs, err = buildFromFlags(ctx, f)
	}
	if err != nil {
		return err
	}
	size, err := writeArchiveFile(f.output, imgs)
	if err != nil {
		return err
	}
	return printArchive(out, f.output, size)
}

func buildFromFlags(ctx context.Context, f imageBuildFlags) (map[string]v1.Image, error) {
	if len(f.names) == 0 || len(f.files) == 0 {
		return nil, errors.New("give --demo, or --name REF and at least one --file SRC:DST[:MODE]")
	}
	spec := image.Spec{
		Entrypoint:   f.entrypoint,
		Cmd:          f.cmd,
		Env:          f.env,
		WorkingDir:   f.workdir,
		User:         f.user,
		ExposedPorts: f.ports,
		Platform:     f.platform,
	}
	for _, s := range f.files {
		file, err := image.ParseFile(s)
		if err != nil {
			return nil, err
		}
		spec.Files = append(spec.Files, file)
	}
	for _, kv := range f.labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", kv)
		}
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		spec.Labels[k] = v
	}
	img, err := image.Build(ctx, spec)
	if err != nil {
		return nil, err
	}
	imgs := map[string]v1.Image{}
	for _, name := range f.names {
		imgs[name] = img
	}
	return imgs, nil
}

// writeArchiveFile writes the archive beside path and renames it into place,
// so a failed build never leaves a truncated archive under the name.
func writeArchiveFile(path string, imgs map[string]v1.Image) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if err := image.WriteArchive(tmp, imgs); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, err
	}
	info, err := os.Stat(tmp.Name())
	if err != nil {
		return 0, err
	}
	return info.Size(), os.Rename(tmp.Name(), path)
}

func newImageInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE.tar",
		Short: "List the images an archive carries (OCI layout or docker-archive) and the names they import under",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			return printArchive(cmd.OutOrStdout(), args[0], info.Size())
		},
	}
}

// printArchive reads the archive back and prints one row per image name.
func printArchive(out io.Writer, path string, size int64) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	named, err := image.ReadArchive(file)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tw := tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDIGEST\tPLATFORM\tSIZE")
	for _, img := range named {
		name, digest, platform := img.Name, img.Digest.String(), ""
		if name == "" {
			name = "<none>"
			if img.RefName != "" {
				name = "<tag " + img.RefName + ">"
			}
		}
		if img.Digest == (v1.Hash{}) {
			digest = img.ConfigDigest.String() + " (config)"
		}
		if img.Config != nil {
			platform = img.Config.OS + "/" + img.Config.Architecture
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, digest, platform, humanSize(img.Size))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %d image name(s), %s\n", path, len(named), humanSize(size))
	return nil
}

// humanSize prints bytes as docker does (decimal units).
func humanSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3gGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3gMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3gkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}
