package query_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/query"
)

// TestStartReturnsOnlyOnceTheServiceAnswers: a get and a list sent from
// another connection the instant Start returns are answered, on every one of
// many fresh starts. A subscription is active on the server only once it has
// processed the client's SUB; a Start that returns before then leaves a window
// in which a request finds no responder (ErrNoService).
func TestStartReturnsOnlyOnceTheServiceAnswers(t *testing.T) {
	s := eventstest.Start(t)
	r := controlplanetest.RunProjection(t, s.Log, query.Projection())
	asker := query.NewClient(s.Connect(t))
	ns, _ := object.ByKind("Namespace")
	cm, _ := object.ByKind("ConfigMap")
	const starts = 200
	failed := 0
	for i := range starts {
		// Each start on a connection of its own, as a fresh server has.
		nc, err := nats.Connect(s.NS.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		log, err := events.NewLog(nc, "")
		if err != nil {
			t.Fatal(err)
		}
		svc := query.NewService(r, log, controlplanetest.Discard)
		if err := svc.Start(); err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, gerr := asker.Get(rctx, ns, "", "default")
		_, _, lerr := asker.List(rctx, cm, "", "")
		rcancel()
		var nf *query.NotFoundError
		if !errors.As(gerr, &nf) || lerr != nil {
			failed++
			t.Errorf("start %d: get = %v (want not found), list = %v", i, gerr, lerr)
		}
		svc.Stop()
		nc.Close()
	}
	if failed > 0 {
		t.Errorf("%d of %d fresh starts did not answer at once", failed, starts)
	}
}
