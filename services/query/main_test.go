package query_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/wake-run/wake/events/eventstest"
)

// TestMain fails the package when a goroutine of a test outlives it (the
// benchmarks' shared cluster is stopped first).
func TestMain(m *testing.M) {
	code := m.Run()
	if benchSrv != nil {
		benchSrv.Shutdown()
	}
	if err := eventstest.CheckLeaks(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}
