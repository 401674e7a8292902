package services

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

func event(kind, name, verb string, seq uint64, payload any) *events.Event {
	raw, _ := json.Marshal(payload)
	k, _ := object.ByKind(kind)
	return &events.Event{ID: "e", Type: object.EventType(k, verb), Seq: seq, Time: time.Unix(int64(seq), 0).UTC(),
		Object: events.Ref{Kind: kind, Namespace: "default", Name: name}, Actor: "test", Schema: events.SchemaVersion, Payload: raw}
}

func change(manifest string) *object.Change {
	return &object.Change{Object: json.RawMessage(manifest), Applied: json.RawMessage(manifest)}
}

const (
	webSvc   = `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default","uid":"u1"},"spec":{"type":"ClusterIP","sessionAffinity":"None","clusterIP":"10.96.0.50","ports":[{"port":80,"protocol":"TCP","targetPort":8080}]}}`
	webSlice = `{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-abcde","namespace":"default","uid":"u2","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"port":8080}],"endpoints":[{"addresses":["10.66.22.5"]}]}`
	orphan   = `{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"loose","namespace":"default","uid":"u3"},"addressType":"IPv4","endpoints":[]}`
)

func TestFold(t *testing.T) {
	for _, tc := range []struct {
		name           string
		evs            []*events.Event
		services       int
		slices         int // of Service web
		err            bool
		lastAppliedSet bool
	}{
		{name: "a Service and its slice", evs: []*events.Event{
			event("Service", "web", object.Created, 1, change(webSvc)),
			event("EndpointSlice", "web-abcde", object.Created, 2, change(webSlice)),
		}, services: 1, slices: 1},
		{name: "a slice without the service-name label is kept out of every Service", evs: []*events.Event{
			event("Service", "web", object.Created, 1, change(webSvc)),
			event("EndpointSlice", "loose", object.Created, 2, change(orphan)),
		}, services: 1},
		{name: "deleted ones are gone", evs: []*events.Event{
			event("Service", "web", object.Created, 1, change(webSvc)),
			event("EndpointSlice", "web-abcde", object.Created, 2, change(webSlice)),
			event("EndpointSlice", "web-abcde", object.Deleted, 3, &object.Deletion{}),
			event("Service", "web", object.Deleted, 4, &object.Deletion{}),
		}},
		{name: "another kind is refused", evs: []*events.Event{
			event("ConfigMap", "c", object.Created, 1, change(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"}}`)),
		}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := projections.NewMemState()
			var err error
			for _, ev := range tc.evs {
				if err = Fold(s, ev); err != nil {
					break
				}
			}
			if tc.err {
				if !errors.Is(err, object.ErrFold) {
					t.Fatalf("fold error %v, want one wrapping ErrFold", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st, err := Read(s)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Services) != tc.services || len(st.Slices["default/web"]) != tc.slices {
				t.Errorf("%d services and %d slices of web, want %d and %d", len(st.Services), len(st.Slices["default/web"]), tc.services, tc.slices)
			}
			for _, v := range s.Dump() {
				if json.Valid([]byte(v[1])) && len(v[1]) > 0 && containsApplied(v[1]) {
					t.Errorf("%q keeps the last applied manifest: %s", v[0], v[1])
				}
			}
		})
	}
}

func containsApplied(raw string) bool {
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(raw), &m)
	for k, v := range m {
		if (k == "lastApplied" || k == "LastApplied") && string(v) != "null" {
			return true
		}
	}
	return false
}
