package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// ErrInvalidArchive is wrapped by every error about a tar that is not an image
// archive or is damaged: no oci-layout nor manifest.json, a missing blob, a
// blob whose content does not match its digest, unparsable JSON.
var ErrInvalidArchive = errors.New("invalid image archive")

// NamedImage is one image an archive carries, as containerd will see it.
type NamedImage struct {
	// Name is the normalised reference the image will be found by
	// (docker.io/library/busybox:latest). It is empty when an OCI layout gives
	// the image no name, a name that is not a tagged reference, or only a
	// bare tag ("1.35") in org.opencontainers.image.ref.name, which containerd
	// cannot use alone. A docker-archive with an invalid tag is an error, as
	// it is for containerd.
	Name string
	// RefName is the name as the archive writes it. containerd's Import stores
	// an OCI layout's name verbatim, so when RefName differs from Name the
	// importer must rename the image to Name. A docker-archive's names are
	// normalised by containerd itself.
	RefName string
	// Digest is the digest of the top-level descriptor containerd's image
	// record will point at (a manifest or, for a multi-platform image, an
	// index). It is zero for a docker-archive, whose manifest containerd
	// writes itself on import.
	Digest    v1.Hash
	MediaType types.MediaType
	// ConfigDigest is the image ID. Config is the image configuration, for the
	// platform "linux/" + runtime.GOARCH when the image has several.
	ConfigDigest v1.Hash
	Config       *v1.ConfigFile
	// Layers are the layer blobs in order, as stored in the archive.
	Layers []v1.Descriptor
	// Size is the bytes the image takes in the archive: manifest, config and
	// layers (shared layers count in each image).
	Size int64
}

// maxJSONBlob bounds what ReadArchive keeps in memory: manifests, indexes and
// configs are far smaller; layers are only hashed.
const maxJSONBlob = 4 << 20

// archiveFile is one regular file of an archive, hashed as it was read.
type archiveFile struct {
	size   int64
	digest v1.Hash
	magic  []byte // the first bytes, to tell a layer's compression
	data   []byte // nil when larger than maxJSONBlob
}

// ReadArchive lists the images in an image archive read from r: an OCI image
// layout tar (preferred when the tar is both, as containerd does) or a
// docker-archive (`docker save`), either one optionally compressed with gzip
// or zstd. Every blob under blobs/ is checked against its digest. The images
// come in the archive's order; an image with several names appears once per
// name. ReadArchive reads r to the end and holds only the small JSON files.
func ReadArchive(r io.Reader) ([]NamedImage, error) {
	rc, err := Decompress(r)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	a := &archiveFiles{files: map[string]*archiveFile{}, links: map[string]string{}}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidArchive, err)
		}
		name := path.Clean(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			a.links[name] = path.Join(path.Dir(name), hdr.Linkname)
		case tar.TypeReg:
			f, err := readArchiveFile(tr, hdr.Size)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalidArchive, hdr.Name, err)
			}
			if alg, hexDigest, ok := strings.Cut(strings.TrimPrefix(name, "blobs/"), "/"); ok && strings.HasPrefix(name, "blobs/") {
				if alg != "sha256" {
					return nil, fmt.Errorf("%w: %s: only sha256 digests are supported", ErrInvalidArchive, hdr.Name)
				}
				if f.digest.Hex != hexDigest {
					return nil, fmt.Errorf("%w: %s: its content has digest %s", ErrInvalidArchive, hdr.Name, f.digest)
				}
			}
			a.files[name] = f
		}
	}
	if _, ok := a.files["oci-layout"]; ok {
		return a.ociImages()
	}
	if _, ok := a.files["manifest.json"]; ok {
		return a.dockerImages()
	}
	return nil, fmt.Errorf("%w: neither an OCI image layout (no oci-layout file) nor a docker-archive (no manifest.json)", ErrInvalidArchive)
}

// Decompress returns r as an uncompressed stream: r itself, or a decoder when
// r starts with a gzip or zstd header. containerd 1.6's Import takes only an
// uncompressed tar (a .tar.gz fails with "invalid tar header"), so an importer
// passes archives through Decompress first. Close releases the decoder; it
// does not close r.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidArchive, err)
		}
		return zr, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidArchive, err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

func readArchiveFile(r io.Reader, size int64) (*archiveFile, error) {
	h := sha256.New()
	var head bytes.Buffer
	keep := size <= maxJSONBlob
	w := io.MultiWriter(h, &limitedBuffer{buf: &head, keep: keep})
	n, err := io.Copy(w, r)
	if err != nil {
		return nil, err
	}
	f := &archiveFile{size: n, digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}}
	b := head.Bytes()
	f.magic = b[:min(len(b), 4)]
	if keep {
		f.data = b
	}
	return f, nil
}

// limitedBuffer keeps everything written when keep is set, else the first
// four bytes only.
type limitedBuffer struct {
	buf  *bytes.Buffer
	keep bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.keep {
		return l.buf.Write(p)
	}
	if rest := 4 - l.buf.Len(); rest > 0 {
		l.buf.Write(p[:min(rest, len(p))])
	}
	return len(p), nil
}

type archiveFiles struct {
	files map[string]*archiveFile
	links map[string]string
}

// file returns a file by path, following the symbolic links docker-archives
// use to share layers.
func (a *archiveFiles) file(name string) (*archiveFile, error) {
	name = path.Clean(name)
	for range 16 {
		if f, ok := a.files[name]; ok {
			return f, nil
		}
		target, ok := a.links[name]
		if !ok {
			break
		}
		name = target
	}
	return nil, fmt.Errorf("%w: %s is missing", ErrInvalidArchive, name)
}

func (a *archiveFiles) json(name string, v any) (*archiveFile, error) {
	f, err := a.file(name)
	if err != nil {
		return nil, err
	}
	if f.data == nil {
		return nil, fmt.Errorf("%w: %s is %d bytes, too large for JSON", ErrInvalidArchive, name, f.size)
	}
	if err := json.Unmarshal(f.data, v); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidArchive, name, err)
	}
	return f, nil
}

func (a *archiveFiles) ociImages() ([]NamedImage, error) {
	var layout struct {
		Version string `json:"imageLayoutVersion"`
	}
	if _, err := a.json("oci-layout", &layout); err != nil {
		return nil, err
	}
	if layout.Version != ociLayoutVersion {
		return nil, fmt.Errorf("%w: OCI image layout version %q, containerd reads only %s", ErrInvalidArchive, layout.Version, ociLayoutVersion)
	}
	var index v1.IndexManifest
	if _, err := a.json("index.json", &index); err != nil {
		return nil, err
	}
	var out []NamedImage
	for _, desc := range index.Manifests {
		img := NamedImage{Digest: desc.Digest, MediaType: desc.MediaType}
		img.RefName = desc.Annotations[AnnotationImageName]
		fromImageName := img.RefName != ""
		if !fromImageName {
			img.RefName = desc.Annotations[AnnotationRefName]
		}
		// containerd treats an org.opencontainers.image.ref.name without any
		// of "/:@" as a tag to be prefixed, not as a name.
		if img.RefName != "" && (fromImageName || strings.ContainsAny(img.RefName, "/:@")) {
			if name, err := normalizeTagged(img.RefName); err == nil {
				img.Name = name
			}
		}
		if err := a.resolve(&img, desc); err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// resolve fills img's config, layers and size from a manifest or index
// descriptor; for an index, from the manifest for the default platform.
func (a *archiveFiles) resolve(img *NamedImage, desc v1.Descriptor) error {
	switch desc.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		var index v1.IndexManifest
		f, err := a.json(blobPath(desc.Digest), &index)
		if err != nil {
			return err
		}
		img.Size += f.size
		if len(index.Manifests) == 0 {
			return fmt.Errorf("%w: index %s lists no manifests", ErrInvalidArchive, desc.Digest)
		}
		want := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
		child := index.Manifests[0]
		for _, m := range index.Manifests {
			if m.Platform != nil && m.Platform.OS == want.OS && m.Platform.Architecture == want.Architecture {
				child = m
				break
			}
		}
		return a.resolve(img, child)
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
	default:
		return fmt.Errorf("%w: %s has media type %q, not an image manifest or index", ErrInvalidArchive, desc.Digest, desc.MediaType)
	}
	var manifest v1.Manifest
	f, err := a.json(blobPath(desc.Digest), &manifest)
	if err != nil {
		return err
	}
	img.Size += f.size
	var cfg v1.ConfigFile
	cf, err := a.json(blobPath(manifest.Config.Digest), &cfg)
	if err != nil {
		return err
	}
	img.Size += cf.size
	img.ConfigDigest, img.Config = manifest.Config.Digest, &cfg
	for _, l := range manifest.Layers {
		lf, err := a.file(blobPath(l.Digest))
		if err != nil {
			return err
		}
		if lf.size != l.Size {
			return fmt.Errorf("%w: layer %s is %d bytes, its manifest says %d", ErrInvalidArchive, l.Digest, lf.size, l.Size)
		}
		img.Size += lf.size
		img.Layers = append(img.Layers, l)
	}
	return nil
}

func (a *archiveFiles) dockerImages() ([]NamedImage, error) {
	var manifests []dockerManifest
	if _, err := a.json("manifest.json", &manifests); err != nil {
		return nil, err
	}
	var out []NamedImage
	for _, m := range manifests {
		var cfg v1.ConfigFile
		cf, err := a.json(m.Config, &cfg)
		if err != nil {
			return nil, err
		}
		img := NamedImage{MediaType: types.DockerManifestSchema2, ConfigDigest: cf.digest, Config: &cfg, Size: cf.size}
		for _, l := range m.Layers {
			lf, err := a.file(l)
			if err != nil {
				return nil, err
			}
			img.Layers = append(img.Layers, v1.Descriptor{MediaType: layerMediaType(lf.magic), Size: lf.size, Digest: lf.digest})
			img.Size += lf.size
		}
		if len(m.RepoTags) == 0 {
			out = append(out, img)
		}
		for _, tag := range m.RepoTags {
			named := img
			name, err := normalizeTagged(tag)
			if err != nil {
				return nil, fmt.Errorf("%w: manifest.json: %v", ErrInvalidArchive, err)
			}
			named.Name, named.RefName = name, tag
			out = append(out, named)
		}
	}
	return out, nil
}

func layerMediaType(magic []byte) types.MediaType {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return types.DockerLayer
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return types.OCILayerZStd
	}
	return types.DockerUncompressedLayer
}
