package endpoints

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

// Decision is the controller without its loop: a round decides for the
// Services touched since the last (and every Service on a resync).
func Decision() reconcile.Decision {
	return reconcile.Decision{Name: "endpoints controller", Projection: Projection(), Decide: decideRound, AllOwners: []byte("s\x00")}
}

// New returns the controller on the shared reconcile loop; pass its Hooks to
// the runner, then Attach the runner.
func New(log *events.Log, logger *slog.Logger) *reconcile.Loop {
	return reconcile.NewOwnerLoop(log, logger, Decision())
}

func decideRound(rd projections.Reader, owners []string, _ time.Time) ([]reconcile.Step, error) {
	var plan []reconcile.Step
	nodes, err := nodeIPs(rd)
	if err != nil {
		return nil, err
	}
	for _, o := range owners {
		in, err := Load(rd, o)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", strings.ReplaceAll(o, "\x00", "/"), err)
		}
		in.NodeIPs = nodes
		for _, a := range Decide(in) {
			plan = append(plan, reconcile.Step{Owner: o, Action: a})
		}
	}
	return plan, nil
}

// Load reads what the projection holds of the Service with owner key o
// ("<namespace>\x00<name>"), but the nodes' addresses.
func Load(rd projections.Reader, o string) (Input, error) {
	ns, name := splitOwner(o)
	in := Input{Namespace: ns, Name: name}
	var err error
	if in.Service, err = reconcile.Load(rd, serviceKind, []byte("s\x00"+o)); err != nil {
		return in, err
	}
	if raw, ok, err := rd.Get([]byte("e\x00" + o)); err != nil {
		return in, err
	} else if ok {
		if err := json.Unmarshal(raw, &in.Cause); err != nil {
			return in, err
		}
	}
	if in.Service != nil {
		var ferr error
		prefix := []byte("p\x00" + ns + "\x00")
		err := rd.Scan(prefix, false, func(k, v []byte) bool {
			st, err := object.DecodeStored(podKind, v)
			if ferr = err; err != nil {
				return false
			}
			in.Pods = append(in.Pods, st.Object.(*corev1.Pod))
			return true
		})
		if err = firstError(err, ferr); err != nil {
			return in, err
		}
	}
	var names []string
	prefix := []byte("i\x00" + o + "\x00")
	if err := rd.Scan(prefix, false, func(k, _ []byte) bool {
		names = append(names, string(k[len(prefix):]))
		return true
	}); err != nil {
		return in, err
	}
	for _, n := range names {
		st, err := reconcile.Load(rd, sliceKind, key("l", ns, n))
		if err != nil {
			return in, err
		}
		if st != nil {
			in.Slices = append(in.Slices, st)
		}
	}
	if in.Endpoints, err = reconcile.Load(rd, endpointsKind, key("d", ns, name)); err != nil {
		return in, err
	}
	_, in.EndpointsOurs, err = rd.Get(key("w", ns, name))
	if err != nil {
		return in, err
	}
	var derr error
	in.Deleted = func(kind, n string) uint64 {
		raw, ok, err := rd.Get(tombstoneKey(kind, ns, n))
		if err != nil {
			derr = err
		}
		if !ok {
			return 0
		}
		v, _ := strconv.ParseUint(string(raw), 10, 64)
		return v
	}
	return in, derr
}
