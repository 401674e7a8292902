package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wake-run/wake/node/host"
)

// TestUpNamesEveryMissingPackageAtOnceAndStartsNothing: on a machine that
// lacks what a node needs, `wake up` and `wake agent` say everything that is
// missing and the one command that installs it, before they start anything.
func TestUpNamesEveryMissingPackageAtOnceAndStartsNothing(t *testing.T) {
	saved := nodeRequirements
	t.Cleanup(func() { nodeRequirements = saved })
	nodeRequirements = []host.Requirement{
		{Name: "containerd", Programs: []string{"wake-test-no-containerd"}, Package: "containerd"},
		{Name: "runc", Programs: []string{"wake-test-no-runc"}, Package: "runc"},
		{Name: "CNI plugins", Programs: []string{"bridge"}, Dirs: []string{t.TempDir()}, Package: "containernetworking-plugins"},
		{Name: "shell", Programs: []string{"/bin/sh"}, Package: "dash"},
	}
	data := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"up", "--data-dir", data, "--port", "-1", "--http", "off"},
		{"agent", "--server", "nats://127.0.0.1:1", "--state-dir", data, "--metrics-addr", "off"},
	} {
		r := execute(nil, args...)
		if !r.failed() {
			t.Fatalf("wake %s succeeded on a machine without containerd", args[0])
		}
		for _, want := range []string{"containerd (package containerd)", "runc (package runc)", "CNI plugins (package containernetworking-plugins)",
			"apt-get install -y containerd runc containernetworking-plugins", host.SetupScript} {
			if !strings.Contains(r.errLine, want) {
				t.Errorf("wake %s: error %q lacks %q", args[0], r.errLine, want)
			}
		}
		if strings.Contains(r.errLine, "dash") {
			t.Errorf("wake %s names a package that is installed: %q", args[0], r.errLine)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("wake %s created %s before it knew it could run: %v", args[0], data, err)
		}
	}
	// With a containerd of someone else's, containerd and runc are not asked for.
	r := execute(nil, "agent", "--server", "nats://127.0.0.1:1", "--containerd-socket", "/nonexistent.sock", "--metrics-addr", "off")
	if strings.Contains(r.errLine, "runc") || !strings.Contains(r.errLine, "containernetworking-plugins") {
		t.Errorf("agent with --containerd-socket: %q, want only the CNI plugins named", r.errLine)
	}
}
