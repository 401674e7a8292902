package replicaset

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
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

// Option configures a Controller.
type Option func(*Controller)

// WithResync sets how often a round decides for every owner (default 30s) and how
// often a round runs without a commit to react to (default 2s).
func WithResync(full, tick time.Duration) Option {
	return func(c *Controller) { c.SetResync(full, tick) }
}

// New returns a controller; pass Notify to the runner with
// projections.WithAfterCommit, then Attach the runner.
func New(log *events.Log, logger *slog.Logger, opts ...Option) *Controller {
	c := &Controller{reconcile.New(reconcile.Config{Name: "replicaset controller", Log: log, Logger: logger,
		Subjects: Projection().Subjects, AllOwners: []byte("r\x00"), Decide: decideRound})}
	for _, o := range opts {
		o(c)
	}
	return c
}

// decideRound decides for each owner in turn.
func decideRound(rd projections.Reader, owners []string, now time.Time) ([]reconcile.Step, error) {
	var plan []reconcile.Step
	for _, owner := range owners {
		in, ok, err := loadInput(rd, owner, now)
		if err != nil {
			return nil, fmt.Errorf("replicaset %s: %w", strings.ReplaceAll(owner, "\x00", "/"), err)
		}
		if !ok {
			continue
		}
		var nameErr error
		in.Names = func(name string) (uint64, bool) {
			v, live, err := nameState(rd, in.ReplicaSet.Namespace, name)
			nameErr = errors.Join(nameErr, err)
			return v, live
		}
		actions := Decide(in)
		if nameErr != nil {
			return nil, nameErr
		}
		for _, a := range actions {
			plan = append(plan, reconcile.Step{Owner: owner, Action: a})
		}
	}
	return plan, nil
}

// loadInput reads what Decide needs of one ReplicaSet but Names; ok is false when
// it no longer exists.
func loadInput(rd projections.Reader, owner string, now time.Time) (in Input, ok bool, err error) {
	st, err := load(rd, rsKind, rsKey(owner))
	if err != nil || st == nil {
		return in, false, err
	}
	rs := st.Object.(*appsv1.ReplicaSet)
	in.ReplicaSet, in.Version, in.Now = rs, st.Version, now
	uid := string(rs.UID)
	prefix := ownedPrefix(uid)
	var keys []string
	if err := rd.Scan(prefix, false, func(k, _ []byte) bool {
		keys = append(keys, string(k[len(prefix):]))
		return true
	}); err != nil {
		return in, false, err
	}
	for _, k := range keys {
		ns, name, _ := strings.Cut(k, "\x00")
		p, err := load(rd, podKind, podKey(ns, name))
		if err != nil {
			return in, false, err
		}
		if p != nil {
			in.Pods = append(in.Pods, Pod{Pod: p.Object.(*corev1.Pod), Version: p.Version})
		}
	}
	if in.Created, err = readCounter(rd, uid); err != nil {
		return in, false, err
	}
	if in.Cause, in.StatusCause, err = causesOf(rd, owner); err != nil {
		return in, false, err
	}
	return in, true, nil
}

func nameState(rd projections.Reader, ns, name string) (uint64, bool, error) {
	if _, live, err := rd.Get(podKey(ns, name)); err != nil || live {
		return 0, live, err
	}
	raw, ok, err := rd.Get(tombstoneKey(ns, name))
	if err != nil || !ok {
		return 0, false, err
	}
	v, err := strconv.ParseUint(string(raw), 10, 64)
	return v, false, err
}
