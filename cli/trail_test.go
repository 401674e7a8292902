package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
)

// cmCreated is a configmap.created event for name in namespace default, by actor,
// claiming the time claimed.
func cmCreated(t *testing.T, name, uid, actor string, claimed time.Time) *events.Event {
	t.Helper()
	obj, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "default", "uid": uid}, "data": map[string]string{"k": "v"}})
	ev, err := events.New("configmap.created", events.Ref{Kind: "ConfigMap", Namespace: "default", Name: name}, actor, object.Change{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	ev.Time = claimed
	return ev
}

// TestEventsHonestTrail: what a writer claims is not what the trail shows. A
// false time is listed at the time the log stored the event and gives no false
// age; an event no projection accepted is marked and listed by --rejected; the
// actor and type filters return only events that carry that actor or type.
func TestEventsHonestTrail(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := h.srv.Log()
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

	// A new object whose creation claims 2020: it takes effect, at the stored time.
	old := cmCreated(t, "old", "uid-old", "user:mallory", past)
	oldSeq, err := log.Append(ctx, old, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A second creation of web by a forged admin: stored, but every fold rejects it.
	webVersion, err := log.SubjectVersion(ctx, events.Ref{Kind: "ConfigMap", Namespace: "default", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := log.Append(ctx, cmCreated(t, "web", "uid-forged", "user:admin", past), webVersion)
	if err != nil {
		t.Fatal(err)
	}
	// A malformed event on a configmap's subject.
	bad, err := log.JetStream().Publish(ctx, events.Ref{Kind: "ConfigMap", Namespace: "default", Name: "junk"}.Subject(), []byte("not an event"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	out := h.ok("events").out
	marks, times := map[uint64]string{}, map[string]string{}
	for _, r := range eventRows(t, out) {
		marks[r.seq] = r.rejected
	}
	for _, f := range lines(out)[1:] {
		times[f[0]] = f[1]
	}
	if marks[oldSeq] != "-" || marks[forged] != "yes" || marks[bad.Sequence] != "yes" {
		t.Errorf("REJECTED marks = %v; want - for %d (took effect), yes for %d (forged) and %d (malformed)\n%s", marks, oldSeq, forged, bad.Sequence, out)
	}
	for _, seq := range []uint64{oldSeq, forged} {
		at, err := time.Parse(time.RFC3339, times[strconv.FormatUint(seq, 10)])
		if err != nil || now.Sub(at).Abs() > time.Minute {
			t.Errorf("event %d listed at %q, want the time the log stored it (about %s)\n%s", seq, times[strconv.FormatUint(seq, 10)], now.UTC().Format(time.RFC3339), out)
		}
	}

	// --since and --from compare with the stored time: the 2020 claims are recent.
	for _, args := range [][]string{{"--since", "1h"}, {"--from", now.Add(-time.Hour).UTC().Format(time.RFC3339)}} {
		got := map[uint64]bool{}
		for _, r := range eventRows(t, h.ok(append([]string{"events"}, args...)...).out) {
			got[r.seq] = true
		}
		if !got[oldSeq] || !got[forged] {
			t.Errorf("events %v = %v, want %d and %d among them", args, got, oldSeq, forged)
		}
	}
	if r := h.run("events", "--to", "2021-01-01T00:00:00Z"); r.failed() || strings.Contains(r.out, "user:mallory") {
		t.Errorf("events --to 2021 listed an event stored now: %q %s", r.out, r.errLine)
	}

	// The object's age is its stored creation time's.
	created, err := time.Parse(time.RFC3339, field(h.getObject("cm", "old"), "metadata.creationTimestamp").(string))
	if err != nil || now.Sub(created) > time.Minute {
		t.Errorf("configmap old created at %v (%v), want about %v", created, err, now)
	}
	getRows := lines(h.ok("get", "cm", "old").out)
	if age := getRows[1][len(getRows[1])-1]; !strings.HasSuffix(age, "s") || strings.ContainsAny(age, "ydh") {
		t.Errorf("configmap old AGE = %q, want seconds", age)
	}
	// describe's events of it are as old as their stored time.
	d := h.ok("describe", "cm", "old").out
	var ages []string
	for _, f := range lines(d) {
		if len(f) >= 5 && f[3] == "user:mallory" {
			ages = append(ages, f[2])
		}
	}
	if len(ages) != 1 || !strings.HasSuffix(ages[0], "s") || strings.ContainsAny(ages[0], "ydh") {
		t.Errorf("describe's event of the creation is aged %q, want seconds:\n%s", ages, d)
	}

	// --rejected lists only what did not take effect, with why in -o wide.
	var rejected []uint64
	for _, r := range eventRows(t, h.ok("events", "--rejected").out) {
		rejected = append(rejected, r.seq)
	}
	if !slices.Equal(rejected, []uint64{forged, bad.Sequence}) {
		t.Errorf("events --rejected = %v, want [%d %d]", rejected, forged, bad.Sequence)
	}
	if w := h.ok("events", "--rejected", "-o", "wide").out; !strings.Contains(w, "already exists") {
		t.Errorf("events --rejected -o wide does not say why the forged creation was rejected:\n%s", w)
	}
	var je struct {
		Time     time.Time `json:"time"`
		Claimed  time.Time `json:"claimed"`
		Rejected string    `json:"rejected"`
	}
	j := h.ok("events", "--for", "cm/web", "-o", "json").out
	last := strings.Split(strings.TrimSpace(j), "\n")
	if err := json.Unmarshal([]byte(last[len(last)-1]), &je); err != nil {
		t.Fatal(err)
	}
	if je.Rejected == "" || !je.Claimed.Equal(past) || now.Sub(je.Time).Abs() > time.Minute {
		t.Errorf("the forged event in -o json: %+v; want rejected, claimed %v, time now", je, past)
	}

	// The filters return only events that carry the actor or type asked for.
	for _, tc := range []struct {
		args []string
		want []uint64
	}{
		{[]string{"--actor", "user:admin"}, []uint64{forged}},
		{[]string{"--actor", "user:mallory"}, []uint64{oldSeq}},
		{[]string{"--type", "configmap.created", "--from", strconv.FormatUint(oldSeq, 10)}, []uint64{oldSeq, forged}},
		{[]string{"--actor", "user:admin", "--rejected"}, []uint64{forged}},
		{[]string{"--actor", "user:mallory", "--rejected"}, nil},
	} {
		var got []uint64
		for _, r := range eventRows(t, h.ok(append([]string{"events"}, tc.args...)...).out) {
			got = append(got, r.seq)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("events %v = %v, want %v", tc.args, got, tc.want)
		}
	}
}
