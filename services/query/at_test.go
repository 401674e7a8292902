package query_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/query"
)

// Many readers of many past moments at once (a dashboard's timeline) get the
// state of each moment exactly, with builds shared and the cache bounded.
func TestConcurrentTimeTravel(t *testing.T) {
	_, c := controlplanetest.Start(t, controlplane.Config{})
	ctx := context.Background()
	k := kind(t, "configmaps")
	var seqs []uint64
	var want [][]string
	for i := range 12 {
		controlplanetest.Apply(t, c, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%02d, labels: {round: r%d}}\n", i, i%3))
		objs, cp, err := c.Query.ListAt(ctx, k, "default", "", query.At{})
		if err != nil {
			t.Fatal(err)
		}
		seqs, want = append(seqs, cp), append(want, names(objs))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for r := range 8 {
		for i := range seqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				objs, cp, err := c.Query.ListAt(ctx, k, "default", "", query.At{Seq: seqs[(i+r)%len(seqs)]})
				j := (i + r) % len(seqs)
				switch {
				case err != nil:
					errs <- err
				case cp != seqs[j] || !slices.Equal(names(objs), want[j]):
					errs <- fmt.Errorf("at %d: %v at %d, want %v", seqs[j], names(objs), cp, want[j])
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A selector applies to the past state too.
	objs, _, err := c.Query.ListAt(ctx, k, "default", "round=r1", query.At{Seq: seqs[5]})
	if err != nil || !slices.Equal(names(objs), []string{"default/cm-01", "default/cm-04"}) {
		t.Fatalf("round=r1 at %d: %v, %v", seqs[5], names(objs), err)
	}
}
