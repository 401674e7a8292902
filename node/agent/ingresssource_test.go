package agent

import (
	"reflect"
	"sort"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// TestIngressFold folds Ingresses, IngressClasses, Services and
// EndpointSlices into the snapshot the proxy routes by, follows updates and
// deletions, and refuses other kinds.
func TestIngressFold(t *testing.T) {
	st := projections.NewMemState()
	ev := func(kind, verb, ns, name string, seq uint64, obj string) *events.Event {
		e := configEvent(kind, verb, name, seq, obj)
		e.Object.Namespace = ns
		return e
	}
	slice := func(ip string) string {
		return `{"object":{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-abc","namespace":"shop","uid":"s1",` +
			`"labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[{"addresses":["` + ip + `"]}],"ports":[{"port":8080}]}}`
	}
	for _, e := range []*events.Event{
		ev("Ingress", object.Created, "shop", "web", 1, `{"object":{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"web","namespace":"shop","uid":"i1"},`+
			`"spec":{"defaultBackend":{"service":{"name":"web","port":{"number":80}}}}}}`),
		ev("IngressClass", object.Created, "", "wake", 2, `{"object":{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"wake","uid":"c1"},"spec":{"controller":"wake.run/ingress-controller"}}}`),
		ev("Service", object.Created, "shop", "web", 3, `{"object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop","uid":"v1"},"spec":{"type":"ClusterIP","sessionAffinity":"None","ports":[{"port":80,"protocol":"TCP","targetPort":80}]}}}`),
		ev("Service", object.Created, "shop", "old", 4, `{"object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"old","namespace":"shop","uid":"v2"},"spec":{"type":"ClusterIP","sessionAffinity":"None","ports":[{"port":80,"protocol":"TCP","targetPort":80}]}}}`),
		ev("EndpointSlice", object.Created, "shop", "web-abc", 5, slice("10.66.25.2")),
		ev("EndpointSlice", object.Updated, "shop", "web-abc", 6, slice("10.66.25.3")),
		ev("Service", object.Deleted, "shop", "old", 7, `{"uid":"v2"}`),
	} {
		if err := IngressFold(st, e); err != nil {
			t.Fatalf("seq %d: %v", e.Seq, err)
		}
	}
	snap, err := LoadIngressSnapshot(st)
	if err != nil {
		t.Fatal(err)
	}
	var svcs []string
	for k := range snap.Services {
		svcs = append(svcs, k)
	}
	sort.Strings(svcs)
	if len(snap.Ingresses) != 1 || snap.Classes["wake"] == nil || !reflect.DeepEqual(svcs, []string{"shop/web"}) {
		t.Fatalf("snapshot: %d ingresses, classes %v, services %v", len(snap.Ingresses), snap.Classes, svcs)
	}
	s := snap.Slices["shop/web"]
	if len(s) != 1 || s[0].Endpoints[0].Addresses[0] != "10.66.25.3" {
		t.Fatalf("slices of shop/web: %+v, want the updated one", s)
	}
	if err := IngressFold(st, ev("ConfigMap", object.Created, "shop", "c", 8, `{}`)); err == nil {
		t.Error("the ingress projection folded a ConfigMap")
	}
}
