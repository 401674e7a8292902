package dashboard_test

import (
	"testing"

	"github.com/wake-run/wake/internal/leakcheck"
)

// TestMain fails the package when a stream, cursor, server or browser of a test
// outlives it.
func TestMain(m *testing.M) { leakcheck.Main(m, "github.com/chromedp/") }
