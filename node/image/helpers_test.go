package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/wake-run/wake/node/image"
)

func writeArchive(t *testing.T, imgs map[string]v1.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := image.WriteArchive(&buf, imgs); err != nil {
		t.Fatalf("WriteArchive: %v", err)
	}
	return buf.Bytes()
}

func readArchive(t *testing.T, archive []byte) []image.NamedImage {
	t.Helper()
	named, err := image.ReadArchive(bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("ReadArchive: %v", err)
	}
	return named
}

// tarFiles returns the regular files of a tar by name, and checks that every
// blob's content matches the digest in its name.
func tarFiles(t *testing.T, archive []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hexDigest, ok := strings.CutPrefix(hdr.Name, "blobs/sha256/"); ok {
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != hexDigest {
				t.Errorf("blob %s has digest %x", hdr.Name, sum)
			}
		}
		files[hdr.Name] = b
	}
}

// layerEntry is one entry of an image layer.
type layerEntry struct {
	typeflag byte
	mode     int64
	link     string
	data     []byte
}

// imageFiles extracts the single layer of img from the archive, by the
// digest ReadArchive reported, and returns its entries by absolute path.
func imageFiles(t *testing.T, archive []byte, img image.NamedImage) map[string]layerEntry {
	t.Helper()
	if len(img.Layers) != 1 {
		t.Fatalf("%s has %d layers, want 1", img.Name, len(img.Layers))
	}
	blob, ok := tarFiles(t, archive)["blobs/sha256/"+img.Layers[0].Digest.Hex]
	if !ok {
		t.Fatalf("layer %s of %s is not in the archive", img.Layers[0].Digest, img.Name)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]layerEntry{}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("%s is owned by %d:%d, want root", hdr.Name, hdr.Uid, hdr.Gid)
		}
		name := "/" + strings.TrimSuffix(hdr.Name, "/")
		if _, dup := entries[name]; dup {
			t.Errorf("%s is twice in the layer", name)
		}
		entries[name] = layerEntry{typeflag: hdr.Typeflag, mode: hdr.Mode, link: hdr.Linkname, data: data}
	}
}

func byName(t *testing.T, named []image.NamedImage) map[string]image.NamedImage {
	t.Helper()
	m := map[string]image.NamedImage{}
	for _, img := range named {
		if _, dup := m[img.Name]; dup {
			t.Errorf("%q listed twice", img.Name)
		}
		m[img.Name] = img
	}
	return m
}
