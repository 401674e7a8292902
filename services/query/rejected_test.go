package query

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// TestFoldIndexKeepsFirstEventOfAnID: a later event reusing an id takes effect
// (or not) on its own; it never takes over the id, so the earlier event still
// shows as the one that took effect with it.
func TestFoldIndexKeepsFirstEventOfAnID(t *testing.T) {
	s := projections.NewMemState()
	first := cmEvent(t, object.Created, "a", "u1", 1)
	reuse := cmEvent(t, object.Created, "b", "u2", 2)
	reuse.ID = first.ID
	for _, ev := range []*events.Event{first, reuse} {
		if err := Fold(s, ev); err != nil {
			t.Fatal(err)
		}
	}
	v, ok, err := s.Get(idKey(first.ID))
	if err != nil || !ok || binary.BigEndian.Uint64(v) != 1 {
		t.Fatalf("id %s indexed at %v (found %v, %v), want sequence 1", first.ID, v, ok, err)
	}
}

func TestRejected(t *testing.T) {
	fold := projections.Rejection{Seq: 5, Error: "cannot fold: configmap default/a already exists"}
	cases := []struct {
		name     string
		key      EventKey
		indexed  uint64
		recorded projections.Rejection
		want     string
	}{
		{"took effect", EventKey{Seq: 5, ID: "e5"}, 5, projections.Rejection{}, ""},
		{"rejected with a record", EventKey{Seq: 5, ID: "e5"}, 0, fold, fold.Error},
		{"rejected, record lost to a snapshot", EventKey{Seq: 5, ID: "e5"}, 0, projections.Rejection{}, rejectedUnrecorded},
		{"id taken by an earlier event", EventKey{Seq: 9, ID: "e5"}, 5, projections.Rejection{}, rejectedUnrecorded},
		{"id taken by an earlier event, with a record", EventKey{Seq: 9, ID: "e5"}, 5, fold, fold.Error},
		{"malformed: no id", EventKey{Seq: 5}, 0, projections.Rejection{Error: "malformed event: seq 5"}, "malformed event: seq 5"},
		{"malformed, an index hit cannot vouch for it", EventKey{Seq: 5}, 5, projections.Rejection{}, rejectedUnrecorded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Rejected([]EventKey{tc.key}, []uint64{tc.indexed}, []projections.Rejection{tc.recorded})
			if !reflect.DeepEqual(got, []string{tc.want}) {
				t.Errorf("Rejected = %q, want %q", got, tc.want)
			}
		})
	}
}
