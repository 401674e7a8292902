package clusterdns

import (
	"testing"

	"github.com/wake-run/wake/events/eventstest"
)

func TestMain(m *testing.M) { eventstest.LeakMain(m, "github.com/miekg/dns") }
