// Package services is a node's read model of the cluster's Services and
// EndpointSlices, folded from the stream of record (ev.service.*.*,
// ev.endpointslice.*.*) into an agent projection. The service proxy
// (node/proxy) programs the node's rules from it; cluster DNS can answer from
// the same projection.
//
// Keys: s\x00<namespace>\x00<name> -> object.Stored of a Service;
// e\x00<namespace>\x00<name> -> object.Stored of an EndpointSlice.
package services

import (
	"fmt"
	"sort"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Projection folds every Service and EndpointSlice of the cluster.
func Projection() projections.Projection {
	return projections.Projection{Name: "agent-services", Version: 1, Fold: Fold,
		Subjects: []string{events.KindSubjects("Service", "", false), events.KindSubjects("EndpointSlice", "", false)}}
}

func key(kind, ns, name string) []byte {
	p := "s"
	if kind == "EndpointSlice" {
		p = "e"
	}
	return []byte(p + "\x00" + ns + "\x00" + name)
}

// Fold folds one Service or EndpointSlice event. It is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if !ok || (k.Kind != "Service" && k.Kind != "EndpointSlice") || ev.Object.Node != "" {
		return fmt.Errorf("%w: the agent's services projection folds Services and EndpointSlices, not %s", object.ErrFold, ev.Object)
	}
	key := key(k.Kind, ev.Object.Namespace, ev.Object.Name)
	_, _, err := object.FoldStored(s, k, key, ev)
	return err
}

// State is every Service and EndpointSlice the projection holds.
type State struct {
	Services []*corev1.Service // by namespace, name
	// Slices holds each Service's EndpointSlices (label
	// kubernetes.io/service-name), by "namespace/service".
	Slices map[string][]*discoveryv1.EndpointSlice
}

// Read reads the whole projection.
func Read(rd projections.Reader) (*State, error) {
	st := &State{Slices: map[string][]*discoveryv1.EndpointSlice{}}
	sk, _ := object.ByKind("Service")
	ek, _ := object.ByKind("EndpointSlice")
	var ferr error
	err := rd.Scan([]byte("s\x00"), false, func(_, v []byte) bool {
		o, err := object.DecodeStored(sk, v)
		if err != nil {
			ferr = err
			return false
		}
		st.Services = append(st.Services, o.Object.(*corev1.Service))
		return true
	})
	if err == nil && ferr == nil {
		err = rd.Scan([]byte("e\x00"), false, func(_, v []byte) bool {
			o, err := object.DecodeStored(ek, v)
			if err != nil {
				ferr = err
				return false
			}
			es := o.Object.(*discoveryv1.EndpointSlice)
			if svc := es.Labels[discoveryv1.LabelServiceName]; svc != "" {
				st.Slices[es.Namespace+"/"+svc] = append(st.Slices[es.Namespace+"/"+svc], es)
			}
			return true
		})
	}
	if err == nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("read the services projection: %w", err)
	}
	sort.Slice(st.Services, func(i, j int) bool {
		a, b := st.Services[i], st.Services[j]
		return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
	})
	return st, nil
}

// SlicesOf returns the EndpointSlices of a Service.
func (st *State) SlicesOf(svc *corev1.Service) []*discoveryv1.EndpointSlice {
	return st.Slices[svc.Namespace+"/"+svc.Name]
}
