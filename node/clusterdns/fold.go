// Package clusterdns is the cluster DNS a node agent serves to its pods: the
// answers of CoreDNS's kubernetes plugin (the Kubernetes DNS-based service
// discovery specification) from a projection of the cluster's Namespaces,
// Services, EndpointSlices and Pods folded from the log, and names outside the
// cluster domain forwarded to the node's own resolvers. It also renders the
// resolv.conf the kubelet gives a pod for its dnsPolicy and dnsConfig.
//
// By concern: fold.go is the projection (pure), view.go reads it, answer.go
// answers a query from it (pure over the projection), server.go serves UDP and
// TCP and forwards, resolvconf.go renders a pod's resolv.conf (pure).
package clusterdns

import (
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Projection is the DNS read model: the cluster's Namespaces, Services,
// EndpointSlices and Pods (with the status their nodes report, for the pod's
// IP and readiness), folded from the stream of record.
//
// Keys: o\x00<kind>\x00<namespace>\x00<name> -> object.Stored (kind lowercase;
// a Namespace's namespace is "");
// x\x00<namespace>\x00<service>\x00<slice> -> "": the EndpointSlices of a
// Service, by their kubernetes.io/service-name label.
func Projection() projections.Projection {
	return projections.Projection{Name: "agent-dns", Version: 1, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{
			events.KindSubjects("Namespace", "", true),
			events.KindSubjects("Service", "", false),
			events.KindSubjects("EndpointSlice", "", false),
			events.KindSubjects("Pod", "", false),
			events.Prefix + ".node.*.pod.*.*",
		}}
}

var folded = map[string]bool{"Namespace": true, "Service": true, "EndpointSlice": true, "Pod": true}

func objectKey(kind, ns, name string) []byte {
	return []byte("o\x00" + kind + "\x00" + ns + "\x00" + name)
}

func sliceIndexPrefix(ns, svc string) []byte { return []byte("x\x00" + ns + "\x00" + svc + "\x00") }

// Fold folds one event of the subjects above. It is pure over s. A node's
// report about a pod the projection does not hold (deleted, or not yet seen)
// changes nothing.
func Fold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if !ok || !folded[k.Kind] {
		return fmt.Errorf("%w: the agent's DNS projection folds namespaces, services, endpointslices and pods, not %s", object.ErrFold, ev.Object)
	}
	key := objectKey(k.Token(), ev.Object.Namespace, ev.Object.Name)
	if ev.Object.Node != "" {
		// A node's report about a pod the projection does not hold: nothing to fold.
		if _, found, err := s.Get(key); err != nil || !found {
			return err
		}
	}
	prev, next, err := object.FoldStored(s, k, key, ev)
	if err != nil || k.Kind != "EndpointSlice" {
		return err
	}
	return indexSlice(s, prev, next)
}

// indexSlice keeps the x\x00 index of a slice's Service in step with its label.
func indexSlice(s projections.State, prev, next *object.Stored) error {
	svcOf := func(st *object.Stored) string {
		if st == nil {
			return ""
		}
		return st.Object.(*discoveryv1.EndpointSlice).Labels[discoveryv1.LabelServiceName]
	}
	before, after := svcOf(prev), svcOf(next)
	if before == after {
		return nil
	}
	if before != "" {
		sl := prev.Object.(*discoveryv1.EndpointSlice)
		if err := s.Delete(append(sliceIndexPrefix(sl.Namespace, before), sl.Name...)); err != nil {
			return err
		}
	}
	if after != "" {
		sl := next.Object.(*discoveryv1.EndpointSlice)
		return s.Set(append(sliceIndexPrefix(sl.Namespace, after), sl.Name...), []byte{})
	}
	return nil
}
