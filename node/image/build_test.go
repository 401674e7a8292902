package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/zstd"
	"github.com/wake-run/wake/node/image"
)

// testSpec returns a spec of host files in a temp dir: a binary-like file, a
// directory with a nested file and a link, inline content, a symlink and an
// empty sticky directory.
func testSpec(t *testing.T) (image.Spec, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	app := bytes.Repeat([]byte("\x7fELF static app "), 4096)
	must(t, os.WriteFile(filepath.Join(dir, "app"), app, 0o700))
	must(t, os.MkdirAll(filepath.Join(dir, "site", "css"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "site", "index.html"), []byte("<h1>hi</h1>\n"), 0o640))
	must(t, os.WriteFile(filepath.Join(dir, "site", "css", "a.css"), []byte("h1{}\n"), 0o644))
	must(t, os.Symlink("index.html", filepath.Join(dir, "site", "home.html")))
	spec := image.Spec{
		Files: []image.File{
			{Source: filepath.Join(dir, "app"), Path: "/usr/local/bin/app", Mode: 0o755},
			{Source: filepath.Join(dir, "site"), Path: "/srv/www"},
			{Path: "/etc/app.conf", Content: []byte("mode=test\n")},
			{Path: "/bin/app", Link: "/usr/local/bin/app"},
			{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		},
		Entrypoint:   []string{"/usr/local/bin/app", "--serve"},
		Cmd:          []string{"--port", "8080"},
		Env:          []string{"MODE=test", "EMPTY="},
		WorkingDir:   "/srv/www",
		User:         "65534",
		ExposedPorts: []string{"8080", "53/udp"},
		Labels:       map[string]string{"org.opencontainers.image.title": "app"},
		Platform:     "linux/amd64",
	}
	return spec, map[string][]byte{
		"/usr/local/bin/app":  app,
		"/srv/www/index.html": []byte("<h1>hi</h1>\n"),
		"/srv/www/css/a.css":  []byte("h1{}\n"),
		"/etc/app.conf":       []byte("mode=test\n"),
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBuildWriteReadRoundTrip(t *testing.T) {
	ctx := context.Background()
	spec, want := testSpec(t)
	img, err := image.Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	archive := writeArchive(t, map[string]v1.Image{"myapp": img, "example.org/team/app:1": img})
	named := byName(t, readArchive(t, archive))
	if got := slices.Sorted(maps.Keys(named)); !slices.Equal(got, []string{"docker.io/library/myapp:latest", "example.org/team/app:1"}) {
		t.Fatalf("names = %q", got)
	}
	got := named["example.org/team/app:1"]
	if got.Digest != digest || got.RefName != "example.org/team/app:1" {
		t.Errorf("digest, ref name = %s, %q; want %s and the full name", got.Digest, got.RefName, digest)
	}
	if got.Digest != named["docker.io/library/myapp:latest"].Digest {
		t.Error("two names of one image have different digests")
	}
	cfg := got.Config.Config
	if !slices.Equal(cfg.Entrypoint, spec.Entrypoint) || !slices.Equal(cfg.Cmd, spec.Cmd) {
		t.Errorf("entrypoint, cmd = %q, %q", cfg.Entrypoint, cfg.Cmd)
	}
	if wantEnv := []string{image.DefaultPath, "MODE=test", "EMPTY="}; !slices.Equal(cfg.Env, wantEnv) {
		t.Errorf("env = %q, want %q", cfg.Env, wantEnv)
	}
	if cfg.WorkingDir != "/srv/www" || cfg.User != "65534" || cfg.Labels["org.opencontainers.image.title"] != "app" {
		t.Errorf("workdir, user, labels = %q, %q, %v", cfg.WorkingDir, cfg.User, cfg.Labels)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok || len(cfg.ExposedPorts) != 2 {
		t.Errorf("exposed ports = %v, want 8080/tcp and 53/udp", cfg.ExposedPorts)
	}
	if got.Config.OS != "linux" || got.Config.Architecture != "amd64" || got.Config.Created.Unix() != 0 {
		t.Errorf("platform %s/%s created %v", got.Config.OS, got.Config.Architecture, got.Config.Created)
	}

	files := imageFiles(t, archive, got)
	for path, data := range want {
		e, ok := files[path]
		if !ok || e.typeflag != tar.TypeReg || !bytes.Equal(e.data, data) {
			t.Errorf("%s: present %v type %c, %d bytes; want the source's %d bytes", path, ok, e.typeflag, len(e.data), len(data))
		}
	}
	for path, mode := range map[string]int64{
		"/usr/local/bin/app": 0o755, "/srv/www/index.html": 0o640, "/etc/app.conf": 0o644,
		"/tmp": 0o1777, "/usr": 0o755, "/usr/local": 0o755, "/srv/www/css": 0o755,
	} {
		if files[path].mode != mode {
			t.Errorf("%s has mode %o, want %o", path, files[path].mode, mode)
		}
	}
	for path, target := range map[string]string{"/bin/app": "/usr/local/bin/app", "/srv/www/home.html": "index.html"} {
		if e := files[path]; e.typeflag != tar.TypeSymlink || e.link != target {
			t.Errorf("%s = type %c -> %q, want a link to %q", path, e.typeflag, e.link, target)
		}
	}
	for _, dir := range []string{"/usr", "/usr/local", "/usr/local/bin", "/srv", "/srv/www", "/bin", "/etc", "/tmp"} {
		if files[dir].typeflag != tar.TypeDir {
			t.Errorf("%s is not a directory in the layer", dir)
		}
	}
	if len(files) != 15 {
		t.Errorf("layer has %d entries, want 15: %v", len(files), slices.Sorted(maps.Keys(files)))
	}
}

func TestBuildIsReproducible(t *testing.T) {
	spec, _ := testSpec(t)
	a, err := image.Build(context.Background(), spec)
	must(t, err)
	b, err := image.Build(context.Background(), spec)
	must(t, err)
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("two builds of one spec: %s and %s", da, db)
	}
	if !bytes.Equal(writeArchive(t, map[string]v1.Image{"app": a}), writeArchive(t, map[string]v1.Image{"app": b})) {
		t.Fatal("two archives of one image differ")
	}
}

// TestArchiveIsOCILayoutAndDockerArchive reads the archive with
// go-containerregistry's own readers: the OCI layout (extracted to a
// directory) and the docker-archive view (manifest.json).
func TestArchiveIsOCILayoutAndDockerArchive(t *testing.T) {
	spec, _ := testSpec(t)
	img, err := image.Build(context.Background(), spec)
	must(t, err)
	other, err := image.Build(context.Background(), image.Spec{Files: []image.File{{Path: "/hello", Content: []byte("hello\n")}}, Cmd: []string{"/hello"}})
	must(t, err)
	archive := writeArchive(t, map[string]v1.Image{"busybox": img, "wake.local/other:2": other, "example.org/app:1": img})

	dir := t.TempDir()
	for name, data := range tarFiles(t, archive) {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	index, err := layout.ImageIndexFromPath(dir)
	must(t, err)
	manifest, err := index.IndexManifest()
	must(t, err)
	names := map[string]v1.Hash{}
	for _, desc := range manifest.Manifests {
		if desc.Annotations[image.AnnotationImageName] != desc.Annotations[image.AnnotationRefName] {
			t.Errorf("annotations differ: %v", desc.Annotations)
		}
		if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture == "" {
			t.Errorf("descriptor platform = %v", desc.Platform)
		}
		names[desc.Annotations[image.AnnotationImageName]] = desc.Digest
		child, err := index.Image(desc.Digest)
		must(t, err)
		if err := validate.Image(child); err != nil {
			t.Errorf("%s invalid in the OCI layout: %v", desc.Digest, err)
		}
	}
	imgDigest, _ := img.Digest()
	if names["docker.io/library/busybox:latest"] != imgDigest || names["example.org/app:1"] != imgDigest || len(names) != 3 {
		t.Errorf("index names = %v", names)
	}

	path := filepath.Join(t.TempDir(), "a.tar")
	must(t, os.WriteFile(path, archive, 0o644))
	for _, ref := range []string{"busybox:latest", "example.org/app:1"} {
		tag, err := name.NewTag(ref)
		must(t, err)
		loaded, err := tarball.ImageFromPath(path, &tag)
		if err != nil {
			t.Fatalf("docker-archive view of %s: %v", ref, err)
		}
		wantCfg, _ := img.ConfigName()
		gotCfg, _ := loaded.ConfigName()
		wantLayers, _ := img.Layers()
		gotLayers, _ := loaded.Layers()
		wl, _ := wantLayers[0].Digest()
		gl, _ := gotLayers[0].Digest()
		if gotCfg != wantCfg || gl != wl {
			t.Errorf("docker-archive %s: config %s layer %s; want %s %s", ref, gotCfg, gl, wantCfg, wl)
		}
	}
}

func TestReadArchiveFormats(t *testing.T) {
	img, err := image.Build(context.Background(), image.Spec{Files: []image.File{{Path: "/hello", Content: []byte("hello\n")}}})
	must(t, err)
	archive := writeArchive(t, map[string]v1.Image{"wake.local/a:1": img})

	t.Run("gzip", func(t *testing.T) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(archive)
		zw.Close()
		if got := readArchive(t, buf.Bytes()); len(got) != 1 || got[0].Name != "wake.local/a:1" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("zstd", func(t *testing.T) {
		zw, err := zstd.NewWriter(nil)
		must(t, err)
		compressed := zw.EncodeAll(archive, nil)
		must(t, zw.Close())
		if got := readArchive(t, compressed); len(got) != 1 || got[0].Name != "wake.local/a:1" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("docker-archive only", func(t *testing.T) {
		stripped := rewriteTar(t, archive, func(name string, data []byte) []byte {
			if name == "oci-layout" || name == "index.json" {
				return nil
			}
			return data
		})
		got := readArchive(t, stripped)
		if len(got) != 1 || got[0].Name != "wake.local/a:1" || got[0].Digest != (v1.Hash{}) || len(got[0].Layers) != 1 {
			t.Fatalf("got %+v", got)
		}
		cfg, _ := img.ConfigName()
		if got[0].ConfigDigest != cfg || got[0].Layers[0].MediaType != "application/vnd.docker.image.rootfs.diff.tar.gzip" {
			t.Errorf("config %s layer %+v", got[0].ConfigDigest, got[0].Layers[0])
		}
	})
	t.Run("go-containerregistry docker-archive", func(t *testing.T) {
		var buf bytes.Buffer
		tag, _ := name.NewTag("busybox:1.36")
		untagged, _ := name.NewTag("example.org/x:y")
		must(t, tarball.MultiRefWrite(map[name.Reference]v1.Image{tag: img, untagged: img}, &buf))
		got := byName(t, readArchive(t, buf.Bytes()))
		if _, ok := got["docker.io/library/busybox:1.36"]; !ok || len(got) != 2 {
			t.Fatalf("names = %v", slices.Sorted(maps.Keys(got)))
		}
	})
	t.Run("bare tag ref name", func(t *testing.T) {
		bare := rewriteTar(t, archive, func(name string, data []byte) []byte {
			if name == "index.json" {
				data = bytes.Replace(data, []byte(`"io.containerd.image.name":"wake.local/a:1",`), nil, 1)
				data = bytes.Replace(data, []byte(`"org.opencontainers.image.ref.name":"wake.local/a:1"`), []byte(`"org.opencontainers.image.ref.name":"1.35"`), 1)
			}
			return data
		})
		got := readArchive(t, bare)
		if len(got) != 1 || got[0].Name != "" || got[0].RefName != "1.35" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("corrupt blob", func(t *testing.T) {
		corrupt := rewriteTar(t, archive, func(name string, data []byte) []byte {
			if name == "blobs/sha256/"+mustDigest(t, img).Hex {
				data = bytes.Replace(data, []byte("layers"), []byte("LAYERS"), 1)
			}
			return data
		})
		if _, err := image.ReadArchive(bytes.NewReader(corrupt)); !errors.Is(err, image.ErrInvalidArchive) {
			t.Fatalf("err = %v, want ErrInvalidArchive", err)
		}
	})
	t.Run("missing blob", func(t *testing.T) {
		missing := rewriteTar(t, archive, func(name string, data []byte) []byte {
			if name == "blobs/sha256/"+mustDigest(t, img).Hex {
				return nil
			}
			return data
		})
		if _, err := image.ReadArchive(bytes.NewReader(missing)); !errors.Is(err, image.ErrInvalidArchive) {
			t.Fatalf("err = %v, want ErrInvalidArchive", err)
		}
	})
	t.Run("not an archive", func(t *testing.T) {
		for _, data := range [][]byte{[]byte("hello"), rewriteTar(t, archive, func(string, []byte) []byte { return nil })} {
			if _, err := image.ReadArchive(bytes.NewReader(data)); !errors.Is(err, image.ErrInvalidArchive) {
				t.Errorf("err = %v, want ErrInvalidArchive", err)
			}
		}
	})
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	must(t, err)
	return d
}

// rewriteTar copies a tar's regular files through edit; nil drops the file.
func rewriteTar(t *testing.T, archive []byte, edit func(name string, data []byte) []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range tarFiles(t, archive) {
		data = edit(name, data)
		if data == nil {
			continue
		}
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}))
		_, err := tw.Write(data)
		must(t, err)
	}
	must(t, tw.Close())
	return buf.Bytes()
}

func TestBuildRefusesBadSpecs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	must(t, os.WriteFile(file, []byte("x"), 0o644))
	ok := image.File{Path: "/f", Content: []byte("x")}
	for name, spec := range map[string]image.Spec{
		"no files":          {},
		"relative path":     {Files: []image.File{{Path: "f", Content: []byte("x")}}},
		"root path":         {Files: []image.File{{Path: "/", Mode: fs.ModeDir}}},
		"duplicate path":    {Files: []image.File{ok, {Path: "/f/", Source: file}}},
		"file as parent":    {Files: []image.File{ok, {Path: "/f/g", Content: []byte("y")}}},
		"missing source":    {Files: []image.File{{Path: "/g", Source: filepath.Join(dir, "nope")}}},
		"bad port":          {Files: []image.File{ok}, ExposedPorts: []string{"http"}},
		"port out of range": {Files: []image.File{ok}, ExposedPorts: []string{"70000"}},
		"bad protocol":      {Files: []image.File{ok}, ExposedPorts: []string{"80/icmp"}},
		"bad env":           {Files: []image.File{ok}, Env: []string{"NOVALUE"}},
		"relative workdir":  {Files: []image.File{ok}, WorkingDir: "srv"},
		"bad platform":      {Files: []image.File{ok}, Platform: "amd64"},
	} {
		if _, err := image.Build(context.Background(), spec); !errors.Is(err, image.ErrInvalidSpec) {
			t.Errorf("%s: err = %v, want ErrInvalidSpec", name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := image.Build(ctx, image.Spec{Files: []image.File{ok}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled build: err = %v", err)
	}
}

func TestWriteArchiveRefusesBadNames(t *testing.T) {
	img, err := image.Build(context.Background(), image.Spec{Files: []image.File{{Path: "/f", Content: []byte("x")}}})
	must(t, err)
	for _, imgs := range []map[string]v1.Image{
		{},
		{"busybox": img, "docker.io/library/busybox:latest": img},
		{"busybox@sha256:c630de425fbfb6028e9a3306a8d5147238acae95142c2abb48bbd10c1066f2fd": img},
		{"Busybox": img},
	} {
		var buf bytes.Buffer
		if err := image.WriteArchive(&buf, imgs); err == nil {
			t.Errorf("WriteArchive(%v) succeeded", slices.Sorted(maps.Keys(imgs)))
		}
	}
}
