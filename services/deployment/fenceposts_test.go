package deployment

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// maxSurge rounds up and maxUnavailable down, as Kubernetes' ResolveFenceposts;
// both 0 would stall a rollout, so maxUnavailable becomes 1.
func TestFenceposts(t *testing.T) {
	i, s := intstr.FromInt32, intstr.FromString
	for _, c := range []struct {
		replicas          int32
		surge, unavail    intstr.IntOrString
		wantS, wantU, max int32 // max: maxUnavailable(d), bounded by the replicas
	}{
		{10, s("25%"), s("25%"), 3, 2, 2},
		{4, s("25%"), s("25%"), 1, 1, 1},
		{3, s("25%"), s("25%"), 1, 0, 0},
		{1, s("25%"), s("25%"), 1, 0, 0},
		{3, i(0), i(0), 0, 1, 1},
		{3, s("0%"), s("0%"), 0, 1, 1},
		{5, s("1%"), s("99%"), 1, 4, 4},
		{10, s("50%"), s("33%"), 5, 3, 3},
		{2, i(1), i(5), 1, 5, 2},
		{0, s("25%"), s("25%"), 0, 1, 0},
		{3, i(2), s("100%"), 2, 3, 3},
	} {
		d := deployment(c.replicas, rolling(c.surge, c.unavail))
		gotS, gotU := fenceposts(d)
		if gotS != c.wantS || gotU != c.wantU || maxUnavailable(d) != c.max {
			t.Errorf("replicas %d surge %s unavailable %s: surge %d unavailable %d (max %d), want %d %d (%d)",
				c.replicas, c.surge.String(), c.unavail.String(), gotS, gotU, maxUnavailable(d), c.wantS, c.wantU, c.max)
		}
	}
	if gotS, gotU := fenceposts(deployment(10)); gotS != 3 || gotU != 2 {
		t.Errorf("defaults on 10 replicas: surge %d unavailable %d, want 25%%: 3 and 2", gotS, gotU)
	}
}
