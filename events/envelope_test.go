package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wake-run/wake/events"
)

func mustNew(t testing.TB, typ string, ref events.Ref, payload any) *events.Event {
	t.Helper()
	ev, err := events.New(typ, ref, "tester", payload)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestNewAndDecodeRoundTrip(t *testing.T) {
	ref := events.Ref{Kind: "pod", Namespace: "default", Name: "web.1"}
	ev := mustNew(t, "pod.created", ref, map[string]int{"replicas": 3})
	if ev.ID == "" || ev.Correlation != ev.ID || ev.Schema != events.SchemaVersion || ev.Cause != "" {
		t.Fatalf("New gave %+v", ev)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"Seq"`) || strings.Contains(string(data), `"Subject"`) {
		t.Fatalf("Seq or Subject leaked into the stored JSON: %s", data)
	}
	got, err := events.Decode(data, 42, ref.Subject())
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 42 || got.Subject != ref.Subject() || got.ID != ev.ID || got.Type != ev.Type ||
		got.Object != ref || !got.Time.Equal(ev.Time) || string(got.Payload) != `{"replicas":3}` {
		t.Fatalf("Decode gave %+v, want %+v", got, ev)
	}
}

func TestNewRejectsUnmarshalablePayload(t *testing.T) {
	_, err := events.New("x.y", events.Ref{Kind: "x", Name: "y"}, "a", map[string]any{"f": func() {}})
	if err == nil {
		t.Fatal("New accepted a payload that cannot be marshalled")
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	ref := events.Ref{Kind: "pod", Namespace: "default", Name: "web"}
	subj := ref.Subject()
	valid := func(edit func(m map[string]any)) []byte {
		m := map[string]any{
			"id": "ID1", "type": "pod.created", "time": "2026-01-02T03:04:05Z", "actor": "a",
			"schema": events.SchemaVersion, "object": map[string]any{"kind": "pod", "namespace": "default", "name": "web"},
		}
		if edit != nil {
			edit(m)
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if _, err := events.Decode(valid(nil), 1, subj); err != nil {
		t.Fatalf("the unedited event must decode: %v", err)
	}
	cases := []struct {
		name    string
		data    []byte
		subject string
	}{
		{"not json", []byte("not json"), subj},
		{"empty", nil, subj},
		{"json array", []byte(`[1,2]`), subj},
		{"wrong field type", valid(func(m map[string]any) { m["schema"] = "one" }), subj},
		{"no id", valid(func(m map[string]any) { delete(m, "id") }), subj},
		{"empty id", valid(func(m map[string]any) { m["id"] = "" }), subj},
		{"no type", valid(func(m map[string]any) { delete(m, "type") }), subj},
		{"schema 0", valid(func(m map[string]any) { m["schema"] = 0 }), subj},
		{"no schema", valid(func(m map[string]any) { delete(m, "schema") }), subj},
		{"negative schema", valid(func(m map[string]any) { m["schema"] = -1 }), subj},
		{"newer schema", valid(func(m map[string]any) { m["schema"] = events.SchemaVersion + 1 }), subj},
		{"no object", valid(func(m map[string]any) { delete(m, "object") }), subj},
		{"no kind", valid(func(m map[string]any) { m["object"] = map[string]any{"namespace": "default", "name": "web"} }), subj},
		{"no name", valid(func(m map[string]any) { m["object"] = map[string]any{"kind": "pod", "namespace": "default"} }), subj},
		{"other name's subject", valid(nil), events.Ref{Kind: "pod", Namespace: "default", Name: "api"}.Subject()},
		{"other namespace's subject", valid(nil), events.Ref{Kind: "pod", Namespace: "prod", Name: "web"}.Subject()},
		{"other kind's subject", valid(nil), events.Ref{Kind: "service", Namespace: "default", Name: "web"}.Subject()},
		{"cluster scope subject", valid(nil), events.Ref{Kind: "pod", Name: "web"}.Subject()},
		{"unencoded subject", valid(func(m map[string]any) {
			m["object"] = map[string]any{"kind": "pod", "namespace": "default", "name": "a.b"}
		}), "ev.pod.default.a.b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := events.Decode(tc.data, 7, tc.subject)
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("Decode = %+v, %v; want an error wrapping ErrMalformed", ev, err)
			}
			if ev != nil {
				t.Fatalf("Decode returned an event with its error: %+v", ev)
			}
			if !strings.Contains(err.Error(), "seq 7") {
				t.Fatalf("error %q does not name the sequence", err)
			}
		})
	}
}

func TestCausedByCarriesCorrelation(t *testing.T) {
	ref := events.Ref{Kind: "deployment", Namespace: "default", Name: "web"}
	apply := mustNew(t, "deployment.applied", ref, nil)
	rs := mustNew(t, "replicaset.created", events.Ref{Kind: "replicaset", Namespace: "default", Name: "web-1"}, nil).CausedBy(apply)
	pod := mustNew(t, "pod.created", events.Ref{Kind: "pod", Namespace: "default", Name: "web-1-a"}, nil).CausedBy(rs)

	if rs.Cause != apply.ID || rs.Correlation != apply.ID {
		t.Fatalf("replicaset: cause %q correlation %q, want both %q", rs.Cause, rs.Correlation, apply.ID)
	}
	if pod.Cause != rs.ID || pod.Correlation != apply.ID {
		t.Fatalf("pod: cause %q correlation %q, want cause %q correlation %q", pod.Cause, pod.Correlation, rs.ID, apply.ID)
	}

	// A cause read from an older writer without a correlation is its own correlation.
	legacy := &events.Event{ID: "L1", Type: "x", Schema: 1}
	ev := mustNew(t, "pod.bound", ref, nil).CausedBy(legacy)
	if ev.Cause != "L1" || ev.Correlation != "L1" {
		t.Fatalf("cause %q correlation %q, want L1 and L1", ev.Cause, ev.Correlation)
	}

	// No cause leaves the event its own correlation.
	own := mustNew(t, "pod.bound", ref, nil)
	if own.CausedBy(nil).Correlation != own.ID || own.Cause != "" {
		t.Fatalf("CausedBy(nil) changed the event: %+v", own)
	}
}
