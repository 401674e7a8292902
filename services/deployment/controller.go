package deployment

import (
	"log/slog"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	appsv1 "k8s.io/api/apps/v1"
)

// Controller appends what Decide returns for the Deployments its projection saw
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
	return &Controller{reconcile.NewOwnerLoop("deployment controller", log, logger, p, decide, all, opts...)}
}

// decide decides for one Deployment.
func decide(_ projections.Reader, st reconcile.OwnerState, _ time.Time) ([]Action, error) {
	return Decide(input(st)), nil
}

// input is what Decide knows of the Deployment st.
func input(st reconcile.OwnerState) Input {
	in := Input{Deployment: st.Object.(*appsv1.Deployment), Version: st.Version, Cause: st.Cause, SpecCause: st.SpecCause, Names: st.Names}
	for _, rs := range st.Children {
		in.ReplicaSets = append(in.ReplicaSets, ReplicaSet{ReplicaSet: rs.Object.(*appsv1.ReplicaSet), Version: rs.Version})
	}
	return in
}
