package ingress

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Controller appends what Decide returns, through the shared reconcile loop:
// after every commit of its projection and every few seconds.
type Controller struct{ *reconcile.Loop }

// everything is the one owner a round decides for.
const everything = "ingresses"

// New returns a controller; pass its Hooks to the runner, then Attach the runner.
func New(log *events.Log, logger *slog.Logger) *Controller {
	return &Controller{reconcile.New(reconcile.Config{Name: "ingress controller", Log: log, Logger: logger,
		Subjects: Projection().Subjects, Mode: reconcile.Full,
		Owners: func(projections.Reader) ([]string, error) { return []string{everything}, nil },
		Decide: decideRound, Tick: 5 * time.Second})}
}

func decideRound(rd projections.Reader, owners []string, _ time.Time) ([]reconcile.Step, error) {
	if len(owners) == 0 {
		return nil, nil
	}
	st, err := Load(rd)
	if err != nil {
		return nil, err
	}
	var plan []reconcile.Step
	for _, a := range Decide(st) {
		plan = append(plan, reconcile.Step{Owner: everything, Action: a})
	}
	return plan, nil
}

// Load reads the State from the projection.
func Load(rd projections.Reader) (*State, error) {
	st := &State{Ingresses: map[string]*Ingress{}, Classes: map[string]*networkingv1.IngressClass{}, Nodes: map[string]Node{}}
	var ferr error
	scan := func(prefix, kind string, fn func(object.Object, *record)) error {
		k, _ := object.ByKind(kind)
		err := rd.Scan([]byte(prefix+"\x00"), false, func(_, v []byte) bool {
			var rec record
			if ferr = json.Unmarshal(v, &rec); ferr != nil {
				return false
			}
			s, err := object.DecodeStored(k, rec.Stored)
			if err != nil {
				ferr = err
				return false
			}
			fn(s.Object, &rec)
			return true
		})
		if err != nil {
			return err
		}
		return ferr
	}
	cause := func(r *record) events.Event { return events.Event{ID: r.EventID, Time: r.Time} }
	err := scan("i", "Ingress", func(o object.Object, r *record) {
		ing := o.(*networkingv1.Ingress)
		st.Ingresses[ing.Namespace+"/"+ing.Name] = &Ingress{Ing: ing, Version: r.Version, Cause: cause(r), Note: r.Note}
	})
	if err == nil {
		err = scan("c", "IngressClass", func(o object.Object, _ *record) {
			st.Classes[o.GetName()] = o.(*networkingv1.IngressClass)
		})
	}
	if err == nil {
		err = scan("n", "Node", func(o object.Object, r *record) {
			st.Nodes[o.GetName()] = Node{Node: o.(*corev1.Node), Cause: cause(r)}
		})
	}
	if err == nil {
		_, st.ClassDeleted, err = rd.Get(key("t", "", "wake"))
	}
	return st, err
}

// Decision is the controller without its loop, for reconciletest scripts: a
// round decides for everything (the loop runs it in Full mode; here
// RoundAll does).
func Decision() reconcile.Decision {
	return reconcile.Decision{Name: "ingress controller", Projection: Projection(), Decide: decideRound, AllOwners: []byte{}}
}
