// Package image builds small OCI images from local files and reads and writes
// the image archives that containerd imports, so wake runs without a registry.
//
// Build turns a Spec (files, entrypoint, env, ports...) into a one-layer image;
// WriteArchive writes images to one tar that is both an OCI image layout
// (index.json naming each image with its full normalised reference) and a
// docker-archive (manifest.json), so `ctr images import` and `docker load` take
// it alike; ReadArchive lists the images an archive carries under the names
// containerd will store them as. Normalize is Docker's reference normalisation,
// shared by the importer and the pod spec.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrInvalidSpec is wrapped by every error about a Spec or File that cannot
// become an image (relative path, duplicate path, bad port, missing source).
var ErrInvalidSpec = errors.New("invalid image spec")

// DefaultPath is the PATH an image gets when its Spec sets none, Docker's default.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Spec describes an image of one layer built from local files.
type Spec struct {
	// Files are put in the layer in addition to the parent directories they
	// need (created 0755). Every path appears at most once.
	Files []File
	// Entrypoint and Cmd are the image config's; the runtime runs
	// Entrypoint + Cmd unless the pod overrides them.
	Entrypoint []string
	Cmd        []string
	// Env entries are KEY=VALUE. Without a PATH entry, DefaultPath is added.
	Env        []string
	WorkingDir string
	User       string
	// ExposedPorts are "8080", "8080/tcp", "53/udp" or "9/sctp".
	ExposedPorts []string
	Labels       map[string]string
	// Platform is os/arch[/variant]; empty means "linux/" + runtime.GOARCH.
	// It only labels the image: the files must already be built for it.
	Platform string
	// Created stamps the config, its history and every file in the layer.
	// The zero value means the Unix epoch, so the same inputs always give the
	// same image digest.
	Created time.Time
}

// File is one entry of the image's layer: a symbolic link if Link is set, else
// a copy of Source if set, else an empty directory if Mode has fs.ModeDir,
// else a file holding Content.
type File struct {
	// Path is the absolute path in the image, e.g. /bin/busybox.
	Path string
	// Source is a host file or directory to copy. A directory is copied
	// recursively with its files' own modes; symbolic links inside it are kept
	// as links. A link given as Source itself is followed.
	Source string
	// Content is the file's data when Source is empty.
	Content []byte
	// Link makes the entry a symbolic link to Link (e.g. "busybox").
	Link string
	// Mode holds the permission bits (setuid, setgid and sticky included) and,
	// with fs.ModeDir and no Source, makes an empty directory. Zero means the
	// source's permissions, 0644 for Content and 0755 for a directory.
	Mode fs.FileMode
}

// Build returns the image spec describes: one gzip layer, OCI media types,
// files owned by root and stamped with spec.Created. The compressed layer is
// held in memory, so Build is meant for small images (tens of megabytes).
// Host files are read once, during Build.
func Build(ctx context.Context, spec Spec) (v1.Image, error) {
	created := spec.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC()
	cfg, platform, err := imageConfig(spec)
	if err != nil {
		return nil, err
	}
	entries, err := collect(ctx, spec.Files)
	if err != nil {
		return nil, err
	}
	blob, err := layerBlob(ctx, entries, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("build layer: %w", err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "wake image build",
			Comment:   fmt.Sprintf("%d layer entries", len(entries)),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("build image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: created}
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

func imageConfig(spec Spec) (v1.Config, *v1.Platform, error) {
	platformName := spec.Platform
	if platformName == "" {
		platformName = "linux/" + runtime.GOARCH
	}
	platform, err := v1.ParsePlatform(platformName)
	if err != nil || platform.OS == "" || platform.Architecture == "" {
		return v1.Config{}, nil, fmt.Errorf("%w: platform %q: want os/arch[/variant], e.g. linux/amd64", ErrInvalidSpec, platformName)
	}
	cfg := v1.Config{
		Entrypoint: spec.Entrypoint,
		Cmd:        spec.Cmd,
		WorkingDir: spec.WorkingDir,
		User:       spec.User,
		Labels:     spec.Labels,
	}
	if spec.WorkingDir != "" && !path.IsAbs(spec.WorkingDir) {
		return v1.Config{}, nil, fmt.Errorf("%w: working directory %q must be absolute", ErrInvalidSpec, spec.WorkingDir)
	}
	hasPath := false
	for _, kv := range spec.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return v1.Config{}, nil, fmt.Errorf("%w: env %q: want KEY=VALUE", ErrInvalidSpec, kv)
		}
		hasPath = hasPath || k == "PATH"
	}
	cfg.Env = append([]string(nil), spec.Env...)
	if !hasPath {
		cfg.Env = append([]string{DefaultPath}, cfg.Env...)
	}
	for _, p := range spec.ExposedPorts {
		port, err := normalizePort(p)
		if err != nil {
			return v1.Config{}, nil, err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[port] = struct{}{}
	}
	return cfg, platform, nil
}

// normalizePort turns "8080" into "8080/tcp" and checks the number and protocol.
func normalizePort(p string) (string, error) {
	num, proto, found := strings.Cut(p, "/")
	if !found {
		proto = "tcp"
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%w: port %q: want a number from 1 to 65535, optionally /tcp, /udp or /sctp", ErrInvalidSpec, p)
	}
	switch proto = strings.ToLower(proto); proto {
	case "tcp", "udp", "sctp":
	default:
		return "", fmt.Errorf("%w: port %q: protocol must be tcp, udp or sctp", ErrInvalidSpec, p)
	}
	return fmt.Sprintf("%d/%s", n, proto), nil
}

// entry is one tar entry of the layer; a regular file's data is read from
// source when the layer is written, or taken from data.
type entry struct {
	name     string // relative to the root, no leading or trailing slash
	typeflag byte
	mode     int64
	link     string
	source   string
	data     []byte
	size     int64
}

// collect resolves spec files into layer entries, one per path, with every
// missing parent directory added.
func collect(ctx context.Context, files []File) (map[string]*entry, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no files", ErrInvalidSpec)
	}
	entries := map[string]*entry{}
	add := func(e *entry) error {
		if _, dup := entries[e.name]; dup {
			return fmt.Errorf("%w: /%s is listed twice", ErrInvalidSpec, e.name)
		}
		entries[e.name] = e
		return nil
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, err := layerName(f.Path)
		if err != nil {
			return nil, err
		}
		switch {
		case f.Link != "":
			err = add(&entry{name: name, typeflag: tar.TypeSymlink, mode: 0o777, link: f.Link})
		case f.Source != "":
			err = addSource(name, f, add)
		case f.Mode&fs.ModeDir != 0:
			err = add(&entry{name: name, typeflag: tar.TypeDir, mode: unixMode(f.Mode, 0o755)})
		default:
			err = add(&entry{name: name, typeflag: tar.TypeReg, mode: unixMode(f.Mode, 0o644), data: f.Content, size: int64(len(f.Content))})
		}
		if err != nil {
			return nil, err
		}
	}
	for name := range entries {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if e, ok := entries[dir]; ok {
				if e.typeflag != tar.TypeDir {
					return nil, fmt.Errorf("%w: /%s is not a directory but /%s is inside it", ErrInvalidSpec, dir, name)
				}
				continue
			}
			entries[dir] = &entry{name: dir, typeflag: tar.TypeDir, mode: 0o755}
		}
	}
	return entries, nil
}

// layerName checks an image path and returns it as a tar entry name.
func layerName(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("%w: image path %q must be absolute", ErrInvalidSpec, p)
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" {
		return "", fmt.Errorf("%w: image path %q is the root", ErrInvalidSpec, p)
	}
	return name, nil
}

// addSource adds a host file, or a host directory recursively, at name.
func addSource(name string, f File, add func(*entry) error) error {
	info, err := os.Stat(f.Source)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file or directory", ErrInvalidSpec, f.Source)
		}
		return add(&entry{name: name, typeflag: tar.TypeReg, mode: unixMode(f.Mode, unixMode(info.Mode(), 0o644)), source: f.Source, size: info.Size()})
	}
	if err := add(&entry{name: name, typeflag: tar.TypeDir, mode: unixMode(f.Mode, unixMode(info.Mode(), 0o755))}); err != nil {
		return err
	}
	return filepath.WalkDir(f.Source, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
		}
		rel, err := filepath.Rel(f.Source, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
		}
		e := &entry{name: path.Join(name, filepath.ToSlash(rel)), mode: unixMode(info.Mode(), 0o644)}
		switch {
		case info.IsDir():
			e.typeflag = tar.TypeDir
		case info.Mode()&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(p); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
			}
			e.typeflag, e.mode = tar.TypeSymlink, 0o777
		case info.Mode().IsRegular():
			e.typeflag, e.source, e.size = tar.TypeReg, p, info.Size()
		default:
			return fmt.Errorf("%w: %s is not a regular file, directory or symbolic link", ErrInvalidSpec, p)
		}
		return add(e)
	})
}

// unixMode returns the Unix permission bits of m (setuid, setgid and sticky
// included), or def when m has none.
func unixMode(m fs.FileMode, def int64) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	if mode == 0 {
		return def
	}
	return mode
}

// FileMode converts Unix permission bits (0755, 01777, 04755) to an fs.FileMode.
func FileMode(unix uint32) fs.FileMode {
	m := fs.FileMode(unix & 0o777)
	if unix&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if unix&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if unix&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// ParseFile parses the command-line form SRC:DST[:MODE] of a File: a host file
// or directory, its absolute path in the image, and optional octal permissions
// ("0755", "755", "1777").
func ParseFile(s string) (File, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return File{}, fmt.Errorf("%w: file %q: want SRC:DST[:MODE], e.g. ./app:/bin/app:0755", ErrInvalidSpec, s)
	}
	f := File{Source: parts[0], Path: parts[1]}
	if !path.IsAbs(f.Path) {
		return File{}, fmt.Errorf("%w: file %q: the image path %q must be absolute", ErrInvalidSpec, s, f.Path)
	}
	if len(parts) == 3 {
		mode, err := strconv.ParseUint(parts[2], 8, 32)
		if err != nil || mode > 0o7777 {
			return File{}, fmt.Errorf("%w: file %q: mode %q must be octal permissions such as 0755", ErrInvalidSpec, s, parts[2])
		}
		f.Mode = FileMode(uint32(mode))
	}
	return f, nil
}

// layerBlob writes entries as a gzip-compressed tar, parents before children,
// in a fixed order so the same entries always give the same bytes.
func layerBlob(ctx context.Context, entries map[string]*entry, created time.Time) ([]byte, error) {
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	// Comparing with "/" as the lowest byte sorts a directory's children right
	// after it and before any sibling that shares its prefix ("a/b" < "a-b").
	sortKey := func(s string) string { return strings.ReplaceAll(s, "/", "\x00") }
	sort.Slice(names, func(i, j int) bool { return sortKey(names[i]) < sortKey(names[j]) })

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := entries[name]
		hdr := &tar.Header{
			Typeflag: e.typeflag,
			Name:     e.name,
			Linkname: e.link,
			Mode:     e.mode,
			ModTime:  created,
			Format:   tar.FormatPAX,
		}
		if e.typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if e.typeflag == tar.TypeReg {
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write /%s: %w", e.name, err)
		}
		if e.typeflag == tar.TypeReg {
			if err := writeData(tw, e); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeData(w io.Writer, e *entry) error {
	if e.source == "" {
		_, err := w.Write(e.data)
		return err
	}
	f, err := os.Open(e.source)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, e.size))
	if err != nil {
		return fmt.Errorf("copy %s to /%s: %w", e.source, e.name, err)
	}
	if n != e.size {
		return fmt.Errorf("copy %s to /%s: the file shrank from %d to %d bytes during the build", e.source, e.name, e.size, n)
	}
	return nil
}
