package agent_test

import (
	"os"
	"testing"
)

// TestMain puts net.ipv4.ip_forward back as it found it: the CNI bridge plugin
// turns it on host-wide for the pod networks these tests create.
func TestMain(m *testing.M) {
	const forward = "/proc/sys/net/ipv4/ip_forward"
	before, err := os.ReadFile(forward)
	code := m.Run()
	if err == nil {
		_ = os.WriteFile(forward, before, 0o644)
	}
	os.Exit(code)
}
