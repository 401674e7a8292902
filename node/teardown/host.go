package teardown

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// HostFile is the record, in an agent's state directory, of the host-wide
// settings as they were before the agent's first start.
const HostFile = "host.json"

const (
	ipForwardPath = "/proc/sys/net/ipv4/ip_forward"
	runContainerd = "/run/containerd"
)

// HostRecord is what the host was like before wake first changed it: the
// CNI plugins turn on net.ipv4.ip_forward and create portmap's top-level
// chains, and the containerd shims create /run/containerd. A teardown
// restores or removes only what the record says wake changed.
type HostRecord struct {
	// IPForward is net.ipv4.ip_forward ("0" or "1"); "" is unknown.
	IPForward string `json:"ipForward"`
	// HostportChains is whether the nat table had CNI-HOSTPORT-DNAT.
	HostportChains bool `json:"hostportChains"`
	// RunContainerd is whether /run/containerd existed.
	RunContainerd bool `json:"runContainerd"`
}

// RecordHost writes stateDir/host.json with the host as it is now, unless
// the file exists: the record is of the first start, and later starts
// (after Ctrl-C, with pods still running) must not overwrite it with what
// wake changed. A teardown removes the file once it has restored the host.
func RecordHost(ctx context.Context, stateDir string) error {
	path := filepath.Join(stateDir, HostFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var rec HostRecord
	if b, err := os.ReadFile(ipForwardPath); err == nil {
		rec.IPForward = strings.TrimSpace(string(b))
	}
	if out, err := exec.CommandContext(ctx, "iptables", "-w", "-t", "nat", "-S", hostportDNAT).CombinedOutput(); err == nil {
		rec.HostportChains = true
	} else if _, ok := err.(*exec.ExitError); !ok {
		return fmt.Errorf("record the host before its first pod: iptables: %v: %s", err, out)
	}
	if _, err := os.Stat(runContainerd); err == nil {
		rec.RunContainerd = true
	}
	if err := os.MkdirAll(stateDir, 0o711); err != nil {
		return err
	}
	b, _ := json.Marshal(rec)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("record the host before its first pod: %w", err)
	}
	return os.Rename(tmp, path)
}

// readHost reads the record; ok is false when there is none.
func readHost(stateDir string) (rec HostRecord, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(stateDir, HostFile))
	if errors.Is(err, os.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, false, fmt.Errorf("%s: %w", filepath.Join(stateDir, HostFile), err)
	}
	return rec, true, nil
}

// bridgesInUse names the Linux bridges that have interfaces attached: pod
// networks (of other wake clusters, docker, ...) that still need forwarding.
func bridgesInUse() []string {
	var out []string
	dirs, _ := filepath.Glob("/sys/class/net/*/brif")
	for _, d := range dirs {
		if ports, _ := os.ReadDir(d); len(ports) > 0 {
			out = append(out, filepath.Base(filepath.Dir(d)))
		}
	}
	return out
}
