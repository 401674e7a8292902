package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/errdefs"
	"github.com/wake-run/wake/node/image"
	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

// EnsureImage implements runtime.Runtime. Registries are reached over
// HTTPS, except localhost and loopback addresses on a port other than 443,
// which are tried over HTTP as containerd does.
func (r *Runtime) EnsureImage(ctx context.Context, ref string, policy corev1.PullPolicy, creds ...runtime.Credential) (runtime.Image, error) {
	ctx = r.ctx(ctx)
	name, err := image.Normalize(ref)
	if err != nil {
		return runtime.Image{}, fmt.Errorf("%w: %v", runtime.ErrInvalidImageName, err)
	}
	if policy != corev1.PullAlways {
		img, err := r.client.GetImage(ctx, name)
		switch {
		case err == nil:
			if err := r.unpack(ctx, img); err != nil {
				return runtime.Image{}, err
			}
			return r.describe(ctx, img)
		case !errdefs.IsNotFound(err):
			return runtime.Image{}, fmt.Errorf("image %s: %w", name, err)
		case policy == corev1.PullNever:
			return runtime.Image{}, fmt.Errorf("image %s: %w", name, runtime.ErrImageNeverPull)
		}
	}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: config.ConfigureHosts(ctx, config.HostOptions{
		Credentials: func(host string) (string, string, error) {
			for _, c := range creds {
				if c.Host == host {
					return c.Username, c.Password, nil
				}
			}
			return "", "", nil
		},
	})})
	start := time.Now()
	img, err := r.client.Pull(ctx, name, client.WithPullUnpack, client.WithPullSnapshotter(r.snapshotter), client.WithResolver(resolver))
	if r.onPull != nil {
		r.onPull(name, time.Since(start), err)
	}
	if err != nil {
		return runtime.Image{}, &runtime.PullError{Ref: name, Message: pullMessage(err), Err: err}
	}
	return r.describe(ctx, img)
}

// pullMessage is the part of a pull error that says what the registry or
// the connection said, without the client's wrapping of the reference.
func pullMessage(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "failed to resolve reference "); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			return after
		}
	}
	return msg
}

// ImportImages implements runtime.Runtime. containerd stores an OCI
// layout's names verbatim; they are renamed to their normalised form.
func (r *Runtime) ImportImages(ctx context.Context, rd io.Reader) ([]runtime.Image, error) {
	ctx = r.ctx(ctx)
	tarStream, err := image.Decompress(rd)
	if err != nil {
		return nil, err
	}
	defer tarStream.Close()
	imported, err := r.client.Import(ctx, tarStream, client.WithImageRefTranslator(refNameTranslator))
	if err != nil {
		return nil, fmt.Errorf("import images: %w", err)
	}
	var out []runtime.Image
	for _, rec := range imported {
		rec, err := r.normaliseName(ctx, rec)
		if err != nil {
			return nil, err
		}
		if rec.Name == "" {
			continue
		}
		img := client.NewImage(r.client, rec)
		if err := r.unpack(ctx, img); err != nil {
			return nil, err
		}
		desc, err := r.describe(ctx, img)
		if err != nil {
			return nil, err
		}
		out = append(out, desc)
	}
	slices.SortFunc(out, func(a, b runtime.Image) int { return strings.Compare(a.Ref, b.Ref) })
	return slices.CompactFunc(out, func(a, b runtime.Image) bool { return a.Ref == b.Ref }), nil
}

// refNameTranslator names an image from an OCI layout's
// org.opencontainers.image.ref.name: a reference is normalised; a bare tag
// ("1.35", no repository) or an invalid name gives no name.
func refNameTranslator(refName string) string {
	if !strings.ContainsAny(refName, "/:@") {
		return ""
	}
	name, err := image.Normalize(refName)
	if err != nil {
		return ""
	}
	return name
}

// normaliseName renames an image record whose name is not normalised
// (an io.containerd.image.name annotation such as "busybox"); a name that
// is not a reference at all is deleted and returned empty.
func (r *Runtime) normaliseName(ctx context.Context, rec images.Image) (images.Image, error) {
	name, nameErr := image.Normalize(rec.Name)
	if nameErr == nil && name == rec.Name {
		return rec, nil
	}
	store := r.client.ImageService()
	if err := store.Delete(ctx, rec.Name); err != nil && !errdefs.IsNotFound(err) {
		return rec, fmt.Errorf("import images: rename %s: %w", rec.Name, err)
	}
	if nameErr != nil {
		return images.Image{}, nil
	}
	rec.Name = name
	updated, err := store.Update(ctx, rec, "target")
	if errdefs.IsNotFound(err) {
		updated, err = store.Create(ctx, rec)
	}
	if err != nil {
		return rec, fmt.Errorf("import images: rename to %s: %w", name, err)
	}
	return updated, nil
}

// ListImages implements runtime.Runtime.
func (r *Runtime) ListImages(ctx context.Context) ([]runtime.Image, error) {
	ctx = r.ctx(ctx)
	imgs, err := r.client.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]runtime.Image, 0, len(imgs))
	for _, img := range imgs {
		desc, err := r.describe(ctx, img)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue // content of another platform only
		}
		if err != nil {
			return nil, err
		}
		out = append(out, desc)
	}
	slices.SortFunc(out, func(a, b runtime.Image) int { return strings.Compare(a.Ref, b.Ref) })
	return out, nil
}

func (r *Runtime) unpack(ctx context.Context, img client.Image) error {
	unpacked, err := img.IsUnpacked(ctx, r.snapshotter)
	if err == nil && unpacked {
		return nil
	}
	if err := img.Unpack(ctx, r.snapshotter); err != nil {
		return fmt.Errorf("unpack %s: %w", img.Name(), err)
	}
	return nil
}

func (r *Runtime) describe(ctx context.Context, img client.Image) (runtime.Image, error) {
	cfg, err := img.Config(ctx)
	if err != nil {
		return runtime.Image{}, fmt.Errorf("image %s: %w", img.Name(), err)
	}
	size, err := img.Size(ctx)
	if err != nil {
		return runtime.Image{}, fmt.Errorf("image %s: %w", img.Name(), err)
	}
	return runtime.Image{Ref: img.Name(), Digest: img.Target().Digest.String(), ID: cfg.Digest.String(), Size: size}, nil
}
