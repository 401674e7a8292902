package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	wakehost "github.com/wake-run/wake/node/host"
	"github.com/wake-run/wake/node/host/hosttest"
	"os"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/wake-run/wake/deploy/images"
	"github.com/wake-run/wake/node/image"
)

func TestHostnameWebImage(t *testing.T) {
	img, err := images.HostnameWeb(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	archive := writeArchive(t, map[string]v1.Image{images.HostnameWebRef: img})
	named := readArchive(t, archive)
	if len(named) != 1 || named[0].Name != "wake.local/hostname-web:1" {
		t.Fatalf("names = %+v", named)
	}
	web := named[0]
	cfg := web.Config.Config
	if !slices.Equal(cfg.Entrypoint, []string{"/hostname-web"}) || len(cfg.Cmd) != 0 {
		t.Errorf("entrypoint, cmd = %q, %q", cfg.Entrypoint, cfg.Cmd)
	}
	if !slices.Contains(cfg.Env, "PORT=8080") || !slices.Contains(cfg.Env, image.DefaultPath) {
		t.Errorf("env = %q", cfg.Env)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports = %v", cfg.ExposedPorts)
	}
	files := imageFiles(t, archive, web)
	bin := files["/hostname-web"]
	if bin.typeflag != tar.TypeReg || bin.mode != 0o755 {
		t.Fatalf("/hostname-web: type %c mode %o", bin.typeflag, bin.mode)
	}
	exe, err := elf.NewFile(bytes.NewReader(bin.data))
	if err != nil {
		t.Fatalf("/hostname-web is not an ELF binary: %v", err)
	}
	for _, p := range exe.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/hostname-web is dynamically linked, want static (CGO_ENABLED=0)")
		}
	}
	if exe.Section(".symtab") != nil {
		t.Error("/hostname-web has a symbol table, want it stripped (-s -w)")
	}
	if len(files) != 1 {
		t.Errorf("layer has %d entries, want only /hostname-web", len(files))
	}
	t.Logf("hostname-web image: %d bytes in the archive, binary %d bytes", web.Size, len(bin.data))
}

func TestBusyboxImage(t *testing.T) {
	hosttest.Require(t, wakehost.Busybox)
	host, err := os.ReadFile(images.BusyboxPath)
	must(t, err)
	img, err := images.Busybox(context.Background(), images.BusyboxPath)
	must(t, err)
	archive := writeArchive(t, map[string]v1.Image{images.BusyboxRef: img})
	named := readArchive(t, archive)
	if len(named) != 1 || named[0].Name != images.BusyboxRef {
		t.Fatalf("names = %+v", named)
	}
	if cmd := named[0].Config.Config.Cmd; !slices.Equal(cmd, []string{"sh"}) {
		t.Errorf("cmd = %q, want [sh]", cmd)
	}
	files := imageFiles(t, archive, named[0])
	if bb := files["/bin/busybox"]; !bytes.Equal(bb.data, host) || bb.mode != 0o755 {
		t.Errorf("/bin/busybox: %d bytes mode %o, want the host's %d bytes, 0755", len(bb.data), bb.mode, len(host))
	}
	for _, applet := range images.BusyboxApplets {
		if e := files["/bin/"+applet]; e.typeflag != tar.TypeSymlink || e.link != "busybox" {
			t.Errorf("/bin/%s = type %c -> %q, want a link to busybox", applet, e.typeflag, e.link)
		}
	}
	if files["/tmp"].mode != 0o1777 || files["/root"].mode != 0o700 || !bytes.HasPrefix(files["/etc/passwd"].data, []byte("root:x:0:0:")) {
		t.Errorf("/tmp %o, /root %o, /etc/passwd %q", files["/tmp"].mode, files["/root"].mode, files["/etc/passwd"].data)
	}
	t.Logf("busybox image: %d bytes in the archive, %d entries", named[0].Size, len(files))
}

// TestDemoImagesArePinned: a demo image tagged latest would get
// imagePullPolicy Always, and a pod naming it would try a registry that this
// machine cannot reach.
func TestDemoImagesArePinned(t *testing.T) {
	for _, ref := range []string{images.HostnameWebRef, images.BusyboxRef} {
		_, tag, ok := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("demo image %s is not pinned to a version tag", ref)
		}
	}
}
