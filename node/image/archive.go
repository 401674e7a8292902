package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations on an OCI index entry that name an image. containerd's Import
// prefers AnnotationImageName and stores either verbatim.
const (
	AnnotationImageName = "io.containerd.image.name"
	AnnotationRefName   = "org.opencontainers.image.ref.name"
)

// ociLayoutVersion is the only image layout version containerd accepts.
const ociLayoutVersion = "1.0.0"

// dockerManifest is one entry of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteArchive writes images, keyed by reference, to w as one tar that is at
// once an OCI image layout and a docker-archive, the format `docker save`
// writes since Docker 25:
//
//   - oci-layout, blobs/sha256/<hex> (each blob once, however many images share it)
//   - index.json: one manifest descriptor per name, annotated with the full
//     normalised reference under both AnnotationImageName and AnnotationRefName,
//     and with the image's platform
//   - manifest.json: one entry per distinct image with its familiar tags
//     ("busybox:latest") and paths into blobs/
//
// containerd (`ctr images import`, client.Import) reads the OCI layout and
// stores each image under its normalised name; `docker load` reads
// manifest.json. Names are normalised first ("busybox" is written as
// docker.io/library/busybox:latest) and must carry a tag; two keys that
// normalise to the same name are an error. The output depends only on the
// images and their names, so it is byte-for-byte reproducible.
func WriteArchive(w io.Writer, images map[string]v1.Image) error {
	if len(images) == 0 {
		return fmt.Errorf("%w: no images to write", ErrInvalidSpec)
	}
	byName := map[string]v1.Image{}
	for ref, img := range images {
		name, err := normalizeTagged(ref)
		if err != nil {
			return err
		}
		if _, dup := byName[name]; dup {
			return fmt.Errorf("%w: %q names %s, which is already named", ErrInvalidReference, ref, name)
		}
		byName[name] = img
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)

	aw := &archiveWriter{tw: tar.NewWriter(w), written: map[v1.Hash]bool{}}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	var docker []dockerManifest
	dockerEntry := map[v1.Hash]int{} // manifest digest -> index in docker
	if err := aw.dir("blobs/"); err != nil {
		return err
	}
	if err := aw.dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, name := range names {
		desc, dm, err := aw.image(byName[name])
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		desc.Annotations = map[string]string{AnnotationImageName: name, AnnotationRefName: name}
		index.Manifests = append(index.Manifests, desc)
		familiar, err := Familiar(name)
		if err != nil {
			return err
		}
		i, seen := dockerEntry[desc.Digest]
		if !seen {
			i = len(docker)
			dockerEntry[desc.Digest] = i
			docker = append(docker, dm)
		}
		docker[i].RepoTags = append(docker[i].RepoTags, familiar)
	}
	if err := aw.json("index.json", index); err != nil {
		return err
	}
	if err := aw.json("manifest.json", docker); err != nil {
		return err
	}
	if err := aw.json("oci-layout", map[string]string{"imageLayoutVersion": ociLayoutVersion}); err != nil {
		return err
	}
	return aw.tw.Close()
}

// archiveWriter writes tar entries with fixed metadata and each blob once.
type archiveWriter struct {
	tw      *tar.Writer
	written map[v1.Hash]bool
}

var archiveTime = time.Unix(0, 0).UTC()

func (aw *archiveWriter) dir(name string) error {
	return aw.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: archiveTime, Format: tar.FormatPAX})
}

func (aw *archiveWriter) file(name string, size int64, r io.Reader) error {
	if err := aw.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: archiveTime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	n, err := io.Copy(aw.tw, io.LimitReader(r, size))
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("write %s: got %d bytes, its descriptor says %d", name, n, size)
	}
	return nil
}

func (aw *archiveWriter) json(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return aw.file(name, int64(len(b)), bytes.NewReader(b))
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// bytesBlob writes a blob held in memory unless it is already in the archive.
func (aw *archiveWriter) bytesBlob(b []byte) (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return v1.Hash{}, err
	}
	if aw.written[h] {
		return h, nil
	}
	aw.written[h] = true
	return h, aw.file(blobPath(h), int64(len(b)), bytes.NewReader(b))
}

// image writes an image's layers, config and manifest, and returns the index
// descriptor of its manifest and its docker-archive entry (without tags).
func (aw *archiveWriter) image(img v1.Image) (v1.Descriptor, dockerManifest, error) {
	manifest, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, dockerManifest{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, dockerManifest{}, err
	}
	if len(layers) != len(manifest.Layers) {
		return v1.Descriptor{}, dockerManifest{}, fmt.Errorf("%d layers, its manifest lists %d", len(layers), len(manifest.Layers))
	}
	dm := dockerManifest{}
	for i, layer := range layers {
		digest, err := layer.Digest()
		if err != nil {
			return v1.Descriptor{}, dockerManifest{}, err
		}
		if digest != manifest.Layers[i].Digest {
			return v1.Descriptor{}, dockerManifest{}, fmt.Errorf("layer %d has digest %s, its manifest says %s", i, digest, manifest.Layers[i].Digest)
		}
		dm.Layers = append(dm.Layers, blobPath(digest))
		if aw.written[digest] {
			continue
		}
		rc, err := layer.Compressed()
		if err != nil {
			return v1.Descriptor{}, dockerManifest{}, err
		}
		err = aw.file(blobPath(digest), manifest.Layers[i].Size, rc)
		rc.Close()
		if err != nil {
			return v1.Descriptor{}, dockerManifest{}, err
		}
		aw.written[digest] = true
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, dockerManifest{}, err
	}
	configDigest, err := aw.bytesBlob(rawConfig)
	if err != nil {
		return v1.Descriptor{}, dockerManifest{}, err
	}
	if configDigest != manifest.Config.Digest {
		return v1.Descriptor{}, dockerManifest{}, fmt.Errorf("config has digest %s, its manifest says %s", configDigest, manifest.Config.Digest)
	}
	dm.Config = blobPath(configDigest)
	rawManifest, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, dockerManifest{}, err
	}
	manifestDigest, err := aw.bytesBlob(rawManifest)
	if err != nil {
		return v1.Descriptor{}, dockerManifest{}, err
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, dockerManifest{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Descriptor{}, dockerManifest{}, err
	}
	desc := v1.Descriptor{
		MediaType: mediaType,
		Size:      int64(len(rawManifest)),
		Digest:    manifestDigest,
		Platform:  &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
	}
	return desc, dm, nil
}
