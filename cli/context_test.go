package cli

import (
	"bytes"
	"context"
	"testing"
)

// TestEventsFollowStopsWhenItsContextEnds follows the log with `wake events -f`
// and ends the command's context, as Main does at the first SIGINT or SIGTERM:
// the command returns nil within 10s (watchLines checks it at cleanup).
func TestEventsFollowStopsWhenItsContextEnds(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "namespace", "settings")
	lines := h.watchLines("events", "-f")
	nextLine(t, lines, "the header or the first event")
}

// TestInterruptedCommandExitsQuietly runs a request whose context has already
// ended (the person pressed Ctrl-C): it exits with 130, as a command ended by
// SIGINT, and prints no error about the cancelled request.
func TestInterruptedCommandExitsQuietly(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := runMain(ctx, []string{"get", "configmaps", "--server", h.srv.ClientURL(), "--credentials", h.srv.AdminCredentials()}, &out, &errOut)
	if code != 130 || errOut.Len() != 0 {
		t.Errorf("interrupted wake get configmaps: exit %d, stderr %q; want 130 and nothing", code, errOut.String())
	}
	// Not interrupted, the same command succeeds through the same path.
	if code := runMain(context.Background(), []string{"get", "configmaps", "--server", h.srv.ClientURL(), "--credentials", h.srv.AdminCredentials()}, &out, &errOut); code != 0 {
		t.Errorf("wake get configmaps: exit %d, stderr %q; want 0", code, errOut.String())
	}
}
