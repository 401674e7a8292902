package replicaset

import (
	"log/slog"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Controller appends what Decide returns for the ReplicaSets its projection saw
// change, through the shared reconcile loop: a round decides for what was touched
// since the last, plus owners whose appends conflicted; every resync interval, for
// all. Its state is its own projection; it reads nothing else.
type Controller struct{ *reconcile.Loop }

// Decision is the controller without its loop: its projection, what a round
// decides for the owners given, and the key prefix of every owner in the
// projection. New runs it; reconciletest runs it as a script without NATS.
func Decision() (projections.Projection, reconcile.DecideFunc, []byte) {
	return Projection(), kit.Round(decide), kit.AllOwners()
}

// New returns a controller (reconcile.WithResync sets its resync); pass Notify
// to the runner with projections.WithAfterCommit, then Attach the runner.
func New(log *events.Log, logger *slog.Logger, opts ...reconcile.Option) *Controller {
	p, decide, all := Decision()
	return &Controller{reconcile.NewOwnerLoop("replicaset controller", log, logger, p, decide, all, opts...)}
}

// decide decides for one ReplicaSet.
func decide(rd projections.Reader, st reconcile.OwnerState, now time.Time) ([]Action, error) {
	in, err := input(rd, st, now)
	if err != nil {
		return nil, err
	}
	return Decide(in), nil
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
