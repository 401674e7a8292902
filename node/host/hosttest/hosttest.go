// Package hosttest gates tests on what the machine has. A developer without
// root or without a package gets a skip that names what is missing; in CI
// (the CI environment variable set, as CI sets CI=true) the same test fails
// instead, so a green CI run means the real parts were exercised.
package hosttest

import (
	"os"
	"strings"
	"testing"

	"github.com/wake-run/wake/node/host"
)

// SkipMarker starts every skip message this package writes, so a report of
// a test run can tell skips for a missing dependency from deliberate ones.
const SkipMarker = "wake-needs:"

// InCI reports whether the tests run in CI, where nothing may be skipped for
// a missing dependency.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "0" && v != "false"
}

// Require skips t (fails it in CI) unless every requirement is met.
func Require(t testing.TB, reqs ...host.Requirement) {
	t.Helper()
	if err := host.Check(reqs...); err != nil {
		Unmet(t, err.Error())
	}
}

// RequireRoot skips t (fails it in CI) unless the test runs as root.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unmet(t, "root ("+why+")")
	}
}

// RequireNode is RequireRoot plus everything a node runs pods with
// (host.Node and busybox for the demo images).
func RequireNode(t testing.TB) {
	t.Helper()
	RequireRoot(t, "network namespaces, bridges, containerd")
	Require(t, append(append([]host.Requirement{}, host.Node...), host.Busybox)...)
}

// Unmet skips t (fails it in CI) for the reason what, which names what the
// machine lacks.
func Unmet(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI must run this test, but it needs %s", what)
	}
	t.Skipf("%s %s", SkipMarker, what)
}
