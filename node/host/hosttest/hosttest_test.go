package hosttest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/wake-run/wake/node/host"
	"github.com/wake-run/wake/node/host/hosttest"
)

var absent = host.Requirement{Name: "absent tool", Programs: []string{"wake-no-such-program"}, Package: "wake-absent"}

// TestNeedsAbsent is the child the test below runs; it does nothing alone.
func TestNeedsAbsent(t *testing.T) {
	if os.Getenv("WAKE_HOSTTEST_CHILD") == "" {
		return
	}
	hosttest.Require(t, absent)
	t.Log("ran past the requirement")
}

// TestMissingDependencySkipsButFailsInCI runs a test that needs something
// this machine lacks: a developer gets a skip naming it, CI a failure.
func TestMissingDependencySkipsButFailsInCI(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{ci: "", wantFail: false, want: "--- SKIP: TestNeedsAbsent"},
		{ci: "false", wantFail: false, want: "--- SKIP: TestNeedsAbsent"},
		{ci: "true", wantFail: true, want: "--- FAIL: TestNeedsAbsent"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeedsAbsent$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "WAKE_HOSTTEST_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail {
			t.Errorf("CI=%q: failed=%v, want %v:\n%s", tc.ci, failed, tc.wantFail, out)
		}
		for _, want := range []string{tc.want, "absent tool (package wake-absent)", "apt-get install -y wake-absent"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("CI=%q: output lacks %q:\n%s", tc.ci, want, out)
			}
		}
		if strings.Contains(string(out), "ran past the requirement") {
			t.Errorf("CI=%q: the test went on without what it needs", tc.ci)
		}
		if !tc.wantFail && !strings.Contains(string(out), hosttest.SkipMarker) {
			t.Errorf("CI=%q: the skip lacks the marker %q that CI's report looks for", tc.ci, hosttest.SkipMarker)
		}
	}
}
