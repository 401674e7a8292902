package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
)

// A report refused by the facet's version guard is appended again, guarded by the
// version the log holds then, however often another writer gets in first; it
// gives up only when its context ends.
func TestAppendFacetOutlastsConflicts(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := context.Background()
	ref := events.Ref{Kind: "Pod", Namespace: "shop", Name: "web", Node: "n1"}
	first, _ := events.New("pod."+object.Stopped, ref, "test", &object.Deletion{UID: "u1"})
	if _, err := srv.Log.Append(ctx, first, 0); err != nil {
		t.Fatal(err)
	}
	stale := 8 // more conflicts than the agent used to try before dropping its report
	a := &Agent{log: srv.Log, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	a.facetVersion = func(ctx context.Context, r events.Ref) (uint64, error) {
		if stale > 0 {
			stale--
			return 0, nil // as if another writer had appended since the version was read
		}
		return srv.Log.SubjectVersion(ctx, r)
	}
	ev, _ := events.New("pod."+object.Status, ref, "system:node:n1", &object.StatusChange{Status: []byte(`{"phase":"Running"}`)})
	if err := a.appendFacet(ctx, ev); err != nil {
		t.Fatalf("report after %d conflicts: %v", 8, err)
	}
	if v, err := srv.Log.SubjectVersion(ctx, ref); err != nil || v == 0 {
		t.Fatalf("facet version %d, %v", v, err)
	}

	// When the agent stops, the refused report ends with the conflict and why.
	a.facetVersion = func(context.Context, events.Ref) (uint64, error) { return 0, nil }
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	again, _ := events.New("pod."+object.Status, ref, "system:node:n1", &object.StatusChange{Status: []byte(`{"phase":"Running"}`)})
	if err := a.appendFacet(cctx, again); !errors.Is(err, events.ErrConflict) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("report with a context that ends: %v, want a conflict and the deadline", err)
	}
}
