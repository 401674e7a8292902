package controlplane_test

import (
	"testing"

	"github.com/wake-run/wake/events/eventstest"
)

// TestMain fails the package when a goroutine of a test outlives it.
func TestMain(m *testing.M) { eventstest.LeakMain(m) }
