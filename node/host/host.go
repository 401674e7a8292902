// Package host knows what a machine must have installed for wake to run on it,
// and which Debian package brings each piece. The node agent checks it before
// it starts, and tests check it before they touch real parts, so a missing
// package is named once, with the one command that installs it, instead of
// surfacing as the first failure deep inside a pod's start.
package host

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Requirement is one thing a host must have: a program found in PATH or at
// one of fixed paths, and the Debian package that installs it.
type Requirement struct {
	// Name is how errors and skips call it ("containerd", "CNI plugins").
	Name string
	// Programs must all be present. A bare name is looked up in PATH (and in
	// /usr/sbin and /sbin, which a non-root PATH may lack); an absolute path
	// must exist in one of Dirs or as given.
	Programs []string
	// Dirs, when set, are the only places Programs given as bare names are
	// looked for (CNI plugins live outside PATH, and PATH has programs of
	// the same names: iproute2's bridge). Empty means PATH, then the sbin
	// directories.
	Dirs []string
	// Package is the Debian package that installs Programs.
	Package string
}

// The requirements of a wake node and of its tests. Debian installs all of
// them; deploy/setup-debian.sh installs them in one step.
var (
	Containerd = Requirement{Name: "containerd", Programs: []string{"containerd", "containerd-shim-runc-v2"}, Package: "containerd"}
	Runc       = Requirement{Name: "runc", Programs: []string{"runc"}, Package: "runc"}
	// CNI are the plugins wake's pod network uses (Debian puts them in
	// /usr/lib/cni, upstream in /opt/cni/bin).
	CNI = Requirement{Name: "CNI plugins", Programs: []string{"bridge", "host-local", "loopback", "portmap"},
		Dirs: []string{"/usr/lib/cni", "/opt/cni/bin"}, Package: "containernetworking-plugins"}
	IPTables  = Requirement{Name: "iptables", Programs: []string{"iptables"}, Package: "iptables"}
	NFTables  = Requirement{Name: "nft", Programs: []string{"nft"}, Package: "nftables"}
	Conntrack = Requirement{Name: "conntrack", Programs: []string{"conntrack"}, Package: "conntrack"}
	IPRoute2  = Requirement{Name: "ip", Programs: []string{"ip"}, Package: "iproute2"}
	// Busybox is the static busybox `wake image build --demo` packages.
	Busybox  = Requirement{Name: "busybox-static", Programs: []string{"/bin/busybox"}, Package: "busybox-static"}
	Chromium = Requirement{Name: "chromium", Programs: []string{"chromium"}, Package: "chromium"}
)

// Node is everything `wake up` and `wake agent` need to run pods: the
// runtime and pod networking. The service proxy's nftables mode (the
// default) needs NFTables and Conntrack too; its userspace mode does not.
var Node = []Requirement{Containerd, Runc, CNI, IPTables, IPRoute2}

// SetupScript installs every requirement on Debian (relative to a clone of
// the repository).
const SetupScript = "deploy/setup-debian.sh"

// sbinDirs are searched for bare program names that PATH lacks: a plain
// user's PATH on Debian has no sbin, where runc, iptables and nft live.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// Present reports whether every program of r is on this machine.
func (r Requirement) Present() bool {
	for _, p := range r.Programs {
		if r.find(p) == "" {
			return false
		}
	}
	return true
}

// Path is where the first of r's programs is, or "" when it is missing.
func (r Requirement) Path() string {
	if len(r.Programs) == 0 {
		return ""
	}
	return r.find(r.Programs[0])
}

func (r Requirement) find(program string) string {
	if strings.HasPrefix(program, "/") {
		if isExecutable(program) {
			return program
		}
		return ""
	}
	if len(r.Dirs) > 0 {
		for _, d := range r.Dirs {
			if p := d + "/" + program; isExecutable(p) {
				return p
			}
		}
		return ""
	}
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	for _, d := range sbinDirs {
		if p := d + "/" + program; isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// Missing returns the requirements that are not met, in the order given,
// each package once.
func Missing(reqs ...Requirement) []Requirement {
	var missing []Requirement
	seen := map[string]bool{}
	for _, r := range reqs {
		if seen[r.Package] || r.Present() {
			continue
		}
		seen[r.Package] = true
		missing = append(missing, r)
	}
	return missing
}

// MissingError names every requirement that is not met and the one command
// that installs them all.
type MissingError struct {
	Missing []Requirement
}

func (e *MissingError) Error() string {
	names := make([]string, len(e.Missing))
	for i, r := range e.Missing {
		names[i] = fmt.Sprintf("%s (package %s)", r.Name, r.Package)
	}
	return fmt.Sprintf("this machine lacks %s; install with: %s", strings.Join(names, ", "), InstallCommand(e.Missing))
}

// InstallCommand is the one command that installs reqs.
func InstallCommand(reqs []Requirement) string {
	pkgs := make([]string, len(reqs))
	for i, r := range reqs {
		pkgs[i] = r.Package
	}
	cmd := "apt-get install -y " + strings.Join(pkgs, " ")
	if os.Geteuid() != 0 {
		cmd = "sudo " + cmd
	}
	return cmd + " (or " + SetupScript + ", which installs everything wake needs)"
}

// Check returns a *MissingError naming every requirement of reqs that is not
// met, or nil.
func Check(reqs ...Requirement) error {
	if m := Missing(reqs...); len(m) > 0 {
		return &MissingError{Missing: m}
	}
	return nil
}
