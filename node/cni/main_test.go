package cni_test

import (
	"os"
	"testing"
)

// TestMain puts net.ipv4.ip_forward back as it found it: the bridge plugin
// (isGateway) turns it on for the whole host.
func TestMain(m *testing.M) {
	const forward = "/proc/sys/net/ipv4/ip_forward"
	before, err := os.ReadFile(forward)
	code := m.Run()
	if err == nil && string(before) == "0\n" {
		os.WriteFile(forward, before, 0o644)
	}
	os.Exit(code)
}
