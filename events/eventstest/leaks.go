package eventstest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// LeakWatched are the packages whose goroutines must not outlive the tests: wake's,
// the NATS client and server, and Pebble.
var LeakWatched = []string{"github.com/wake-run/wake/", "github.com/nats-io/", "github.com/cockroachdb/pebble"}

// LeakMain runs the tests and exits with their code, or 1 when goroutines
// running code of LeakWatched or extra packages are still alive five seconds after
// the last test (their stacks are printed): every test must stop what it starts.
// Call it from TestMain.
func LeakMain(m *testing.M, extra ...string) {
	code := m.Run()
	if err := CheckLeaks(extra...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// CheckLeaks waits up to five seconds for every goroutine running code of
// LeakWatched or extra packages (import path prefixes) to end, and reports those
// that do not.
func CheckLeaks(extra ...string) error {
	pkgs := append(append([]string{}, LeakWatched...), extra...)
	var stacks string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "eventstest.CheckLeaks") || strings.Contains(g, "testing.(*M)") || knownUpstreamLeak(g) {
				continue
			}
			for _, pkg := range pkgs {
				if strings.Contains(g, pkg) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		stacks = strings.Join(leaked, "\n\n")
	}
	return fmt.Errorf("goroutines outlived the tests:\n%s", stacks)
}

// knownUpstreamLeak recognises the one goroutine nats.go (v1.55.0) may leave
// behind by itself: ObjectStore.Put makes a private publisher whose deferred
// cleanup can clear its status channel before the publisher's watcher goroutine
// has read it, and the watcher then waits on a nil channel forever. It costs one
// parked goroutine per unlucky snapshot write; wake cannot reach that publisher.
func knownUpstreamLeak(stack string) bool {
	return strings.Contains(stack, "[chan receive (nil chan)") &&
		strings.Contains(stack, "jetstream.(*jetStream).resetPendingAcksOnReconnect")
}
