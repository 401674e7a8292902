// Package leakcheck fails a test binary whose goroutines outlive its tests:
// every test must stop what it starts.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Watched are the packages whose goroutines must not outlive the tests: wake's,
// the NATS client and server, and Pebble.
var Watched = []string{"github.com/wake-run/wake/", "github.com/nats-io/", "github.com/cockroachdb/pebble"}

// Main runs the tests and exits with their code, or 1 when goroutines running
// code of Watched or extra packages are still alive five seconds after the last
// test (their stacks are printed). Call it from TestMain.
func Main(m *testing.M, extra ...string) {
	code := m.Run()
	if err := Check(append(append([]string{}, Watched...), extra...)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// Check waits up to five seconds for every goroutine running code of pkgs
// (import path prefixes) to end, and reports those that do not.
func Check(pkgs []string) error {
	var stacks string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "leakcheck.Check") || strings.Contains(g, "testing.(*M)") {
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
