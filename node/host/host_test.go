package host_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wake-run/wake/node/host"
)

func TestMissingNamesEveryPackageOnceAndTheCommandForAll(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "present")
	if err := os.WriteFile(present, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExecutable := filepath.Join(dir, "plain")
	if err := os.WriteFile(notExecutable, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	have := host.Requirement{Name: "have", Programs: []string{present}, Package: "pkg-have"}
	inDir := host.Requirement{Name: "in dir", Programs: []string{"present"}, Dirs: []string{dir}, Package: "pkg-dir"}
	gone := host.Requirement{Name: "gone", Programs: []string{"wake-no-such-program-1"}, Package: "pkg-gone"}
	goneToo := host.Requirement{Name: "gone too", Programs: []string{"wake-no-such-program-2"}, Package: "pkg-gone"}
	half := host.Requirement{Name: "half", Programs: []string{present, "wake-no-such-program-3"}, Package: "pkg-half"}
	plain := host.Requirement{Name: "plain", Programs: []string{notExecutable}, Package: "pkg-plain"}

	// A program of the same name in PATH is not the one asked for (iproute2's
	// bridge is not the CNI plugin).
	onlyDirs := host.Requirement{Name: "sh in dir", Programs: []string{"sh"}, Dirs: []string{t.TempDir()}, Package: "pkg-sh"}
	if onlyDirs.Present() {
		t.Errorf("a requirement with Dirs was met by %s from PATH", onlyDirs.Path())
	}
	if host.Check(have, inDir) != nil {
		t.Fatalf("Check(present ones) = %v", host.Check(have, inDir))
	}
	if got := inDir.Path(); got != filepath.Join(dir, "present") {
		t.Errorf("Path() = %q, want the program in Dirs", got)
	}
	err := host.Check(have, gone, inDir, goneToo, half, plain)
	var missing *host.MissingError
	if !errors.As(err, &missing) {
		t.Fatalf("Check = %v, want a *MissingError", err)
	}
	var names []string
	for _, r := range missing.Missing {
		names = append(names, r.Name)
	}
	if got, want := strings.Join(names, ","), "gone,half,plain"; got != want {
		t.Errorf("missing = %s, want %s (in order, each package once)", got, want)
	}
	msg := err.Error()
	for _, want := range []string{"gone (package pkg-gone)", "half (package pkg-half)", "apt-get install -y pkg-gone pkg-half pkg-plain", host.SetupScript} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

// TestNodeRequirementsAreWhatTheSetUpScriptInstalls keeps the script and the
// agent's check in step: every package the check may name is one the script
// installs.
func TestNodeRequirementsAreWhatTheSetUpScriptInstalls(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", host.SetupScript))
	if err != nil {
		t.Fatal(err)
	}
	all := append(append([]host.Requirement{}, host.Node...), host.Busybox, host.NFTables, host.Conntrack, host.Chromium)
	for _, r := range all {
		if !strings.Contains(string(script), " "+r.Package) {
			t.Errorf("%s does not install %s (needed for %s)", host.SetupScript, r.Package, r.Name)
		}
	}
}
