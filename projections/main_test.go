package projections_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/wake-run/wake/events/eventstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopReplay()
	if err := eventstest.CheckLeaks(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}
