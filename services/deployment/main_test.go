package deployment_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := checkLeaks(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// checkLeaks reports goroutines of wake, the NATS client or server, or Pebble
// that outlive the tests: every test must stop what it starts.
func checkLeaks() error {
	var stacks string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "checkLeaks") || strings.Contains(g, "testing.(*M)") {
				continue
			}
			for _, pkg := range []string{"github.com/wake-run/wake/", "github.com/nats-io/", "github.com/cockroachdb/pebble"} {
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
