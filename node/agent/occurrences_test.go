package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestOccurrencesCoalesce(t *testing.T) {
	ready500 := occurrenceKey{"web", "unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 500"}
	ready503 := occurrenceKey{"web", "unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"}
	// op: "+<sec> <key>" an occurrence at that second; "?<sec>" a due check.
	type op struct {
		at   int
		key  *occurrenceKey // nil: due
		want string         // reports, "count@first" each, sorted
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"a probe failing every second: the first at once, then the count every 30 s", []op{
			{0, &ready500, "1@0"}, {1, &ready500, ""}, {2, &ready500, ""}, {29, &ready500, ""},
			{30, &ready500, "5@0"}, {31, &ready500, ""}, {59, nil, ""}, {60, nil, "6@0"}, {61, nil, ""},
		}},
		{"a repeat after a quiet window is reported at once with its count", []op{
			{0, &ready500, "1@0"}, {100, &ready500, "2@0"},
		}},
		{"another message is another series", []op{
			{0, &ready500, "1@0"}, {1, &ready503, "1@1"}, {2, &ready500, ""}, {40, nil, "2@0"},
		}},
		{"after ten idle minutes a series starts over", []op{
			{0, &ready500, "1@0"}, {5, &ready500, ""}, {30, nil, "2@0"}, {631, nil, ""}, {632, &ready500, "1@632"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o occurrences
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
			for _, op := range tt.ops {
				var got []string
				show := func(r occurrence) {
					got = append(got, fmt.Sprintf("%d@%d", r.count, int(r.first.Sub(base)/time.Second)))
				}
				if op.key != nil {
					if r, ok := o.happened(*op.key, at(op.at)); ok {
						show(r)
					}
				} else {
					for _, r := range o.due(at(op.at)) {
						show(r)
					}
				}
				if g := strings.Join(got, " "); g != op.want {
					t.Errorf("at %ds (key %v): reported %q, want %q", op.at, op.key, g, op.want)
				}
			}
		})
	}
}

func TestOccurrencesNext(t *testing.T) {
	var o occurrences
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := occurrenceKey{"web", "unhealthy", "Liveness probe failed: x"}
	o.happened(key, base)
	if n := o.next(); !n.IsZero() {
		t.Errorf("next = %s with everything reported, want none", n)
	}
	o.happened(key, base.Add(time.Second))
	if n := o.next(); !n.Equal(base.Add(coalesceWindow)) {
		t.Errorf("next = %s, want the end of the window %s", n, base.Add(coalesceWindow))
	}
}
