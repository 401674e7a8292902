package ingress

import (
	"encoding/json"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Decision is the ingress controller: every round decides for all it holds (an Ingress address reads every node, and the default class every Ingress).
// The loop runs it after every commit and every 5 s; reconciletest runs it as a script.
func Decision() reconcile.Decision {
	return reconcile.WholeDecision("ingress controller", Projection(), func(rd projections.Reader, _ time.Time) ([]reconcile.Action, error) {
		st, err := Load(rd)
		if err != nil {
			return nil, err
		}
		return Decide(st), nil
	})
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
