package deployment

import (
	"time"

	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	appsv1 "k8s.io/api/apps/v1"
)

// Decision is the deployment controller without its loop (see reconcile.Decision).
func Decision() reconcile.Decision {
	return kit.Decision("deployment controller", Projection(), decide)
}

// decide decides for one Deployment.
func decide(_ projections.Reader, st reconcile.OwnerState, now time.Time) ([]Action, error) {
	in := input(st)
	in.Now = now
	out := Decide(in)
	if t, ok := NextDeadline(in, out); ok {
		out = append(out, reconcile.WakeAt(t))
	}
	return out, nil
}

// input is what Decide knows of the Deployment st.
func input(st reconcile.OwnerState) Input {
	in := Input{Deployment: st.Object.(*appsv1.Deployment), Version: st.Version, Cause: st.Cause, SpecCause: st.SpecCause, Names: st.Names}
	for _, rs := range st.Children {
		in.ReplicaSets = append(in.ReplicaSets, ReplicaSet{ReplicaSet: rs.Object.(*appsv1.ReplicaSet), Version: rs.Version})
	}
	return in
}
