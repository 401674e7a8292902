package replicaset

import (
	"time"

	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Decision is the replicaset controller without its loop (see reconcile.Decision).
func Decision() reconcile.Decision {
	return kit.Decision("replicaset controller", Projection(), decide)
}

// decide decides for one ReplicaSet.
func decide(rd projections.Reader, st reconcile.OwnerState, now time.Time) ([]Action, error) {
	in, err := input(rd, st, now)
	if err != nil {
		return nil, err
	}
	out := Decide(in)
	if t, ok := NextAvailable(in); ok {
		out = append(out, reconcile.WakeAt(t))
	}
	return out, nil
}

// input is what Decide knows of the ReplicaSet st.
func input(rd projections.Reader, st reconcile.OwnerState, now time.Time) (Input, error) {
	rs := st.Object.(*appsv1.ReplicaSet)
	in := Input{ReplicaSet: rs, Version: st.Version, Now: now, Cause: st.SpecCause, StatusCause: st.Cause, Names: st.Names}
	for _, p := range st.Children {
		in.Pods = append(in.Pods, Pod{Pod: p.Object.(*corev1.Pod), Version: p.Version})
	}
	var err error
	in.Created, err = readCounter(rd, string(rs.UID))
	return in, err
}
