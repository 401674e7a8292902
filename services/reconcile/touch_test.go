package reconcile

import (
	"reflect"
	"testing"

	"github.com/wake-run/wake/projections"
)

func TestTouchLog(t *testing.T) {
	s := projections.NewMemState()
	for _, step := range []struct {
		owner string
		seq   uint64
	}{{"a", 1}, {"b", 2}, {"a", 3}, {"c", 4}} {
		if err := Touch(s, step.owner, step.seq); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		after uint64
		want  []string
	}{
		{0, []string{"c", "a", "b"}}, // newest first, one entry per owner
		{2, []string{"c", "a"}},
		{4, nil},
	}
	for _, tc := range cases {
		got, err := TouchedSince(s, tc.after)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("TouchedSince(%d) = %q, %v; want %q", tc.after, got, err, tc.want)
		}
	}
	if err := Forget(s, "a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := TouchedSince(s, 0); !reflect.DeepEqual(got, []string{"c", "b"}) {
		t.Errorf("after Forget(a): %q", got)
	}
	if n := len(s.Dump()); n != 4 {
		t.Errorf("%d keys left, want 4 (two owners, a t and a c key each)", n)
	}
}
