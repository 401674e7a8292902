package dashboard_test

import (
	"testing"

	"github.com/wake-run/wake/events/eventstest"
)

// TestMain fails the package when a stream, cursor, server or browser of a test
// outlives it.
func TestMain(m *testing.M) { eventstest.LeakMain(m, "github.com/chromedp/") }
