package query

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// cmEvent is a ConfigMap event in namespace default at sequence seq.
func cmEvent(t *testing.T, verb, name, uid string, seq uint64) *events.Event {
	t.Helper()
	k, _ := object.ByKind("ConfigMap")
	ev := &events.Event{ID: fmt.Sprintf("id-%d", seq), Type: object.EventType(k, verb), Time: t0.Add(time.Duration(seq) * time.Second),
		Actor: "user:alice", Reason: "test " + verb, Cause: "cause-1", Correlation: "corr-1", Schema: events.SchemaVersion, Seq: seq,
		Object: events.Ref{Kind: "ConfigMap", Namespace: "default", Name: name}}
	switch verb {
	case object.Created, object.Updated:
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid)},
			Data: map[string]string{"seq": fmt.Sprint(seq)}}
		cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
		obj, _ := json.Marshal(cm)
		ev.Payload, _ = json.Marshal(object.Change{Object: obj})
	case object.Deleted, object.Deleting:
		ev.Payload, _ = json.Marshal(object.Deletion{UID: uid})
	}
	return ev
}

// projectionView is what the query projection holds, decoded from its keys.
type projectionView struct {
	objects    map[string]string   // name -> resourceVersion
	uids       map[string]string   // name -> uid
	tombstones map[string]string   // name -> version of the deletion
	events     map[string][]uint64 // name -> indexed event sequences, in key order
}

func view(t *testing.T, s *projections.MemState) projectionView {
	t.Helper()
	v := projectionView{objects: map[string]string{}, uids: map[string]string{}, tombstones: map[string]string{}, events: map[string][]uint64{}}
	k, _ := object.ByKind("ConfigMap")
	counts, whys := map[string]uint64{}, map[string]uint64{}
	for _, kv := range s.Dump() {
		key, val := kv[0], kv[1]
		parts := strings.Split(key, "\x00")
		switch {
		case strings.HasPrefix(key, "o\x00") && len(parts) == 4:
			st, err := object.DecodeStored(k, []byte(val))
			if err != nil {
				t.Fatalf("stored %q: %v", key, err)
			}
			v.objects[parts[3]] = st.Object.GetResourceVersion()
			v.uids[parts[3]] = string(st.Object.GetUID())
			if _, ok, _ := s.Get([]byte("l" + key[1:])); !ok {
				t.Fatalf("object %q has no label record", key)
			}
		case strings.HasPrefix(key, "t\x00") && len(parts) == 4:
			v.tombstones[parts[3]] = val
		case strings.HasPrefix(key, "l\x00") && len(parts) == 4:
			// The label index must mirror the object's labels exactly.
			obj, ok, _ := s.Get([]byte("o" + key[1:]))
			if !ok {
				t.Fatalf("label record %q without its object", key)
			}
			st, err := object.DecodeStored(k, obj)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(st.Object.GetLabels())
			if val != string(want) {
				t.Fatalf("label record %q = %s, object has %s", key, val, want)
			}
		case strings.HasPrefix(key, "i\x00") && len(val) == 8:
			// Checked by TestFold.
		case strings.HasPrefix(key, "c\x00") && len(parts) == 4 && len(val) == 8:
			counts[parts[3]] = binary.BigEndian.Uint64([]byte(val))
		case strings.HasPrefix(key, "w\x00") && len(parts) == 4 && len(val) == 8:
			whys[parts[3]] = binary.BigEndian.Uint64([]byte(val))
		case strings.HasPrefix(key, "e\x00") && len(key) > 8:
			// e\x00<kind>\x00<namespace>\x00<name>\x00<seq:8>; the sequence may hold zero bytes.
			seq := binary.BigEndian.Uint64([]byte(key[len(key)-8:]))
			parts = strings.Split(key[:len(key)-8], "\x00")
			if len(parts) != 5 || parts[4] != "" {
				t.Fatalf("event index key %q", key)
			}
			var sum EventSummary
			if err := json.Unmarshal([]byte(val), &sum); err != nil || sum.Seq != seq {
				t.Fatalf("event index %q = %s (%v)", key, val, err)
			}
			v.events[parts[3]] = append(v.events[parts[3]], seq)
		default:
			t.Fatalf("unexpected key %q", key)
		}
	}
	// Every live object counts its indexed events and knows where why starts:
	// in these tables every event changes the object itself.
	for name, rv := range v.objects {
		if counts[name] != uint64(len(v.events[name])) || fmt.Sprint(whys[name]) != rv {
			t.Fatalf("%s: count %d for %d indexed events, why starts at %d, resourceVersion %s", name, counts[name], len(v.events[name]), whys[name], rv)
		}
	}
	if len(counts) != len(v.objects) || len(whys) != len(v.objects) {
		t.Fatalf("counts %v and why starts %v outlive their objects %v", counts, whys, v.objects)
	}
	return v
}

func TestFold(t *testing.T) {
	type ev struct {
		verb, name, uid string
	}
	cases := []struct {
		name string
		evs  []ev // the i-th event has sequence i+1
		want projectionView
	}{
		{
			name: "created stores the object and indexes the event",
			evs:  []ev{{object.Created, "a", "u1"}},
			want: projectionView{objects: map[string]string{"a": "1"}, uids: map[string]string{"a": "u1"},
				tombstones: map[string]string{}, events: map[string][]uint64{"a": {1}}},
		},
		{
			name: "updates keep indexing events",
			evs:  []ev{{object.Created, "a", "u1"}, {object.Created, "b", "u2"}, {object.Updated, "a", "u1"}},
			want: projectionView{objects: map[string]string{"a": "3", "b": "2"}, uids: map[string]string{"a": "u1", "b": "u2"},
				tombstones: map[string]string{}, events: map[string][]uint64{"a": {1, 3}, "b": {2}}},
		},
		{
			name: "delete leaves a tombstone with its version and clears the event index",
			evs:  []ev{{object.Created, "a", "u1"}, {object.Updated, "a", "u1"}, {object.Created, "b", "u2"}, {object.Deleted, "a", "u1"}},
			want: projectionView{objects: map[string]string{"b": "3"}, uids: map[string]string{"b": "u2"},
				tombstones: map[string]string{"a": "4"}, events: map[string][]uint64{"b": {3}}},
		},
		{
			name: "graceful deletion keeps the object until deleted",
			evs:  []ev{{object.Created, "a", "u1"}, {object.Deleting, "a", "u1"}},
			want: projectionView{objects: map[string]string{"a": "2"}, uids: map[string]string{"a": "u1"},
				tombstones: map[string]string{}, events: map[string][]uint64{"a": {1, 2}}},
		},
		{
			name: "recreate removes the tombstone",
			evs:  []ev{{object.Created, "a", "u1"}, {object.Deleted, "a", "u1"}, {object.Created, "a", "u2"}},
			want: projectionView{objects: map[string]string{"a": "3"}, uids: map[string]string{"a": "u2"},
				tombstones: map[string]string{}, events: map[string][]uint64{"a": {3}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := projections.NewMemState()
			for i, e := range tc.evs {
				if err := Fold(s, cmEvent(t, e.verb, e.name, e.uid, uint64(i+1))); err != nil {
					t.Fatalf("event %d: %v", i+1, err)
				}
			}
			if got := view(t, s); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("projection =\n%+v\nwant\n%+v", got, tc.want)
			}
			// Every event's id stays indexed, deleted objects' events included.
			for i := range tc.evs {
				v, ok, _ := s.Get([]byte(fmt.Sprintf("i\x00id-%d", i+1)))
				if !ok || binary.BigEndian.Uint64(v) != uint64(i+1) {
					t.Errorf("id-%d indexed as %x (%v), want sequence %d", i+1, v, ok, i+1)
				}
			}
		})
	}
}

func TestFoldEventSummary(t *testing.T) {
	s := projections.NewMemState()
	ev := cmEvent(t, object.Created, "a", "u1", 7)
	if err := Fold(s, ev); err != nil {
		t.Fatal(err)
	}
	k, _ := object.ByKind("ConfigMap")
	var got []EventSummary
	_ = s.Scan(eventPrefix(k, "default", "a"), false, func(_, v []byte) bool {
		var e EventSummary
		if err := json.Unmarshal(v, &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
		return true
	})
	want := []EventSummary{{Seq: 7, ID: "id-7", Type: "configmap.created", Time: ev.Time, Actor: "user:alice",
		Reason: "test created", Cause: "cause-1", Correlation: "corr-1"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("event index = %+v, want %+v", got, want)
	}
}

func TestFoldRefusesWithoutWriting(t *testing.T) {
	cases := []struct {
		name string
		ev   func(t *testing.T) *events.Event
	}{
		{"unknown kind", func(t *testing.T) *events.Event {
			ev := cmEvent(t, object.Created, "a", "u1", 2)
			ev.Object.Kind, ev.Type = "Widget", "widget.created"
			return ev
		}},
		{"updated on a missing object", func(t *testing.T) *events.Event { return cmEvent(t, object.Updated, "zzz", "u9", 2) }},
		{"created twice", func(t *testing.T) *events.Event { return cmEvent(t, object.Created, "a", "u1", 2) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := projections.NewMemState()
			if err := Fold(s, cmEvent(t, object.Created, "a", "u1", 1)); err != nil {
				t.Fatal(err)
			}
			before := s.Dump()
			err := Fold(s, tc.ev(t))
			if !errors.Is(err, object.ErrFold) {
				t.Fatalf("Fold = %v, want an error wrapping object.ErrFold", err)
			}
			if after := s.Dump(); !reflect.DeepEqual(before, after) {
				t.Errorf("a refused event wrote to the projection")
			}
		})
	}
}

func TestFoldScopesKeysByKindAndNamespace(t *testing.T) {
	s := projections.NewMemState()
	cm := cmEvent(t, object.Created, "web", "u1", 1)
	if err := Fold(s, cm); err != nil {
		t.Fatal(err)
	}
	other := cmEvent(t, object.Created, "web", "u2", 2)
	other.Object.Namespace = "shop"
	var payload object.Change
	_ = json.Unmarshal(other.Payload, &payload)
	payload.Object = []byte(strings.Replace(string(payload.Object), `"namespace":"default"`, `"namespace":"shop"`, 1))
	other.Payload, _ = json.Marshal(payload)
	if err := Fold(s, other); err != nil {
		t.Fatal(err)
	}
	cmKind, _ := object.ByKind("ConfigMap")
	count := func(prefix []byte) int {
		n := 0
		_ = s.Scan(prefix, false, func(_, _ []byte) bool { n++; return true })
		return n
	}
	if n := count(scopePrefix('o', cmKind, "default")); n != 1 {
		t.Errorf("objects in default = %d, want 1", n)
	}
	if n := count(scopePrefix('o', cmKind, "")); n != 2 {
		t.Errorf("objects in all namespaces = %d, want 2", n)
	}
	// "shop" must not be matched by a namespace that merely starts like it.
	if n := count(scopePrefix('o', cmKind, "sho")); n != 0 {
		t.Errorf("objects in namespace sho = %d, want 0", n)
	}
}

// Only the newest RecentEvents events of an object stay indexed for describe.
func TestFoldKeepsRecentEvents(t *testing.T) {
	s := projections.NewMemState()
	n := RecentEvents + 9
	for i := 1; i <= n; i++ {
		verb := object.Updated
		if i == 1 {
			verb = object.Created
		}
		if err := Fold(s, cmEvent(t, verb, "a", "u1", uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	got := view(t, s).events["a"]
	if len(got) != RecentEvents || got[0] != uint64(n-RecentEvents+1) || got[len(got)-1] != uint64(n) {
		t.Fatalf("indexed events %v, want the newest %d (%d..%d)", got, RecentEvents, n-RecentEvents+1, n)
	}
}

// A node's occurrence report (a probe failing, counted) keeps its count and
// first time in the object's recent events, for describe's "(x5 over 40s)".
func TestFoldEventSummaryOfAnOccurrence(t *testing.T) {
	s := projections.NewMemState()
	k, _ := object.ByKind("Pod")
	pod, _ := json.Marshal(&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
			Containers: []corev1.Container{{Name: "c", Image: "i:1", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}}})
	created, _ := events.New(object.EventType(k, object.Created), events.Ref{Kind: "Pod", Namespace: "default", Name: "web"}, "user:alice", &object.Change{Object: pod})
	created.Seq, created.Time = 1, t0
	first := t0.Add(time.Second)
	occ, _ := events.New(object.EventType(k, object.Unhealthy), events.Ref{Kind: "Pod", Namespace: "default", Name: "web", Node: "n1"}, "system:node:n1",
		&object.Occurrence{Container: "c", Count: 5, FirstTime: first})
	occ.Seq, occ.Time, occ.Reason = 2, t0.Add(40*time.Second), "Readiness probe failed: HTTP probe failed with statuscode: 500"
	for _, ev := range []*events.Event{created, occ} {
		if err := Fold(s, ev); err != nil {
			t.Fatal(err)
		}
	}
	var got []EventSummary
	_ = s.Scan(eventPrefix(k, "default", "web"), false, func(_, v []byte) bool {
		var e EventSummary
		if err := json.Unmarshal(v, &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
		return true
	})
	if len(got) != 2 || got[0].Count != 0 || !got[0].FirstTime.IsZero() || got[1].Count != 5 || !got[1].FirstTime.Equal(first) || got[1].Node != "n1" {
		t.Errorf("recent events = %+v, want the second counted 5 since %s", got, first)
	}
}
