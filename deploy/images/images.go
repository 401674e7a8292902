// Package images builds wake's two demo images from local files, so the
// quickstart runs without a registry:
//
//   - wake.local/hostname-web:1, the web server in hostname-web/ (its source
//     is embedded in this package and compiled with the local Go toolchain);
//   - docker.io/library/busybox:1.35, Debian 12's busybox-static (1.35) with its
//     applets linked into /bin.
package images

import (
	"context"
	"debug/elf"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/wake-run/wake/node/image"
)

// References of the demo images, in the normalised form containerd stores.
const (
	HostnameWebRef = "wake.local/hostname-web:1"
	BusyboxRef     = "docker.io/library/busybox:1.35"
)

// BusyboxPath is where Debian's busybox-static package installs busybox.
const BusyboxPath = "/bin/busybox"

// BusyboxApplets are linked into /bin of the busybox image whatever the binary
// reports; every other applet `busybox --list` names is linked too.
var BusyboxApplets = []string{
	"sh", "ls", "cat", "echo", "sleep", "wget", "nc", "httpd", "env", "hostname",
	"ps", "kill", "true", "false", "id", "mkdir", "rm", "date",
}

// ErrBusyboxMissing means the host has no static busybox to package.
var ErrBusyboxMissing = errors.New("no static busybox at " + BusyboxPath + ": apt-get install busybox-static")

// ErrNoGo means the demo server cannot be compiled: no go command in PATH.
var ErrNoGo = errors.New("the go command is not in PATH: the hostname-web demo image is compiled from source, install Go 1.22 or later")

//go:embed hostname-web/main.go
var hostnameWebMain []byte

// Demo builds both demo images for linux/GOARCH, compiling the web server in a
// temporary directory under workDir ("" for the system default), which it
// removes. The map is ready for image.WriteArchive.
func Demo(ctx context.Context, workDir string) (map[string]v1.Image, error) {
	web, err := HostnameWeb(ctx, workDir)
	if err != nil {
		return nil, err
	}
	busybox, err := Busybox(ctx, BusyboxPath)
	if err != nil {
		return nil, err
	}
	return map[string]v1.Image{HostnameWebRef: web, BusyboxRef: busybox}, nil
}

// HostnameWeb compiles hostname-web (CGO_ENABLED=0, -trimpath, -ldflags=-s -w,
// GOOS=linux, the running GOARCH) and packages it with entrypoint
// /hostname-web, PORT=8080 and port 8080 exposed.
func HostnameWeb(ctx context.Context, workDir string) (v1.Image, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, ErrNoGo
	}
	dir, err := os.MkdirTemp(workDir, "hostname-web-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hostname-web\n\ngo 1.22\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), hostnameWebMain, 0o644); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "hostname-web")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compile hostname-web: %w\n%s", err, out)
	}
	return image.Build(ctx, image.Spec{
		Files:        []image.File{{Source: bin, Path: "/hostname-web", Mode: 0o755}},
		Entrypoint:   []string{"/hostname-web"},
		Env:          []string{image.DefaultPath, "PORT=8080"},
		ExposedPorts: []string{"8080/tcp"},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "hostname-web",
			"org.opencontainers.image.description": "wake's demo web server: GET / answers the pod's hostname, GET /healthz answers ok",
		},
	})
}

// Busybox packages the static busybox at path with its applets as symbolic
// links in /bin (and /usr/bin/env), /etc/passwd and /etc/group for root and
// nobody, /tmp (1777) and /root, and default command sh. It fails with
// ErrBusyboxMissing when path is absent or dynamically linked (Debian's
// busybox package rather than busybox-static).
func Busybox(ctx context.Context, path string) (v1.Image, error) {
	if err := checkStatic(path); err != nil {
		return nil, err
	}
	applets := slices.Clone(BusyboxApplets)
	if out, err := exec.CommandContext(ctx, path, "--list").Output(); err == nil {
		for _, name := range strings.Fields(string(out)) {
			if name != "busybox" && !strings.Contains(name, "/") {
				applets = append(applets, name)
			}
		}
	}
	slices.Sort(applets)
	applets = slices.Compact(applets)
	files := []image.File{
		{Source: path, Path: "/bin/busybox", Mode: 0o755},
		{Path: "/usr/bin/env", Link: "/bin/busybox"},
		{Path: "/etc/passwd", Content: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Path: "/etc/group", Content: []byte("root:x:0:\nnobody:x:65534:\n")},
		{Path: "/tmp", Mode: os.ModeDir | os.ModeSticky | 0o777},
		{Path: "/root", Mode: os.ModeDir | 0o700},
	}
	for _, name := range applets {
		files = append(files, image.File{Path: "/bin/" + name, Link: "busybox"})
	}
	return image.Build(ctx, image.Spec{
		Files: files,
		Cmd:   []string{"sh"},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "busybox",
			"org.opencontainers.image.description": "Debian's busybox-static, packaged by wake image build --demo",
		},
	})
}

// checkStatic fails unless path is an ELF executable without an interpreter.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return ErrBusyboxMissing
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (Debian's busybox package): %w", path, ErrBusyboxMissing)
		}
	}
	if f.Machine != elfMachine() {
		return fmt.Errorf("%s is built for %s, not %s", path, f.Machine, runtime.GOARCH)
	}
	return nil
}

func elfMachine() elf.Machine {
	switch runtime.GOARCH {
	case "arm64":
		return elf.EM_AARCH64
	case "arm":
		return elf.EM_ARM
	case "386":
		return elf.EM_386
	case "riscv64":
		return elf.EM_RISCV
	case "ppc64le":
		return elf.EM_PPC64
	case "s390x":
		return elf.EM_S390
	}
	return elf.EM_X86_64
}
