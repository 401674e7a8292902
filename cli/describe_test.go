package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/query"
)

func TestDescribeShowsRecentEvents(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	h.ok("scale", "deploy/web", "--replicas=4")
	out := h.ok("describe", "deploy", "web").out
	for _, want := range []string{"Name:                   web\n", "Namespace:              default\n", "Replicas:               4 desired"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	_, events, ok := strings.Cut(out, "\nEvents:\n")
	if !ok {
		t.Fatalf("describe has no Events section:\n%s", out)
	}
	me := client.DefaultActor()
	if !hasRow(events, "Normal", "Created", me, "(seq", "2)") || !hasRow(events, "Normal", "Updated", me, "(seq", "3)") {
		t.Errorf("describe events do not show the apply and the scale by %s:\n%s", me, events)
	}
	if r := h.fails("describe", "deploy", "nope"); r.errLine != `Error from server (NotFound): deployments.apps "nope" not found` {
		t.Errorf("describe of a missing object: %q", r.errLine)
	}
}

func TestReplayAndProjectionsCommands(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	before := h.ok("get", "deploy", "web", "-o", "json").out
	last := h.lastSeq()
	out := h.ok("replay", "query").out
	if want := "projection query rebuilt to sequence 2 from the start of the log: 2 events folded in "; !strings.HasPrefix(out, want) || last != 2 {
		t.Errorf("replay printed %q (log at %d), want %q...", out, last, want)
	}
	if after := h.ok("get", "deploy", "web", "-o", "json").out; after != before {
		t.Errorf("get after replay differs:\n%s\n%s", before, after)
	}

	// A snapshot, then more events: a replay folds only those after it.
	out = h.ok("projections", "snapshot", "query").out
	if !strings.HasPrefix(out, "projection query: snapshot at sequence 2, ") {
		t.Errorf("projections snapshot printed %q", out)
	}
	h.ok("scale", "deploy/web", "--replicas=4")
	before = h.ok("get", "deploy", "web", "-o", "json").out
	out = h.ok("replay", "query").out
	if want := "projection query rebuilt to sequence 3 from the snapshot at sequence 2: 1 events folded in "; !strings.HasPrefix(out, want) {
		t.Errorf("replay after a snapshot printed %q, want %q...", out, want)
	}
	if after := h.ok("get", "deploy", "web", "-o", "json").out; after != before {
		t.Errorf("get after a replay from the snapshot differs:\n%s\n%s", before, after)
	}
	out = h.ok("replay", "query", "--from-log").out
	if want := "projection query rebuilt to sequence 3 from the start of the log: 3 events folded in "; !strings.HasPrefix(out, want) {
		t.Errorf("replay --from-log printed %q, want %q...", out, want)
	}
	if r := h.fails("projections", "snapshot", "nope"); !strings.Contains(r.errLine, `no projection named "nope" (projections: query, `) {
		t.Errorf("snapshot of an unknown projection: %q", r.errLine)
	}

	rows := lines(h.ok("projections").out)
	if len(rows) < 3 || strings.Join(rows[0], " ") != "NAME CHECKPOINT FOLDED REJECTED SNAPSHOT DIR" {
		t.Fatalf("projections = %q", rows)
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		switch r[0] {
		case "query", "namespaces": // both read every event
			seen[r[0]] = true
			if r[1] != "3" || r[3] != "0" {
				t.Errorf("projection %s: checkpoint %s rejected %s, want 3 and 0", r[0], r[1], r[3])
			}
		}
		if r[0] == "query" && r[4] != "2" {
			t.Errorf("query's last snapshot is %q, want 2", r[4])
		}
	}
	if !seen["query"] || !seen["namespaces"] {
		t.Errorf("projections lists %q, want query and namespaces", rows)
	}
}

func TestVersion(t *testing.T) {
	r := execute(nil, "version")
	if r.failed() || !strings.HasPrefix(r.out, "wake "+Version+" (go") {
		t.Errorf("version printed %q %q", r.out, r.errLine)
	}
}

// A probe failing every period is reported as a series (first report, then
// count updates): describe shows only the series' newest report, counted.
func TestDescribeEventsCoalesceASeries(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fail := "Readiness probe failed: HTTP probe failed with statuscode: 500"
	evs := []query.EventSummary{
		{Seq: 1, Type: "pod.status", Time: first, Reason: "Running"},
		{Seq: 2, Type: "pod.unhealthy", Time: first, Reason: fail, Count: 1, FirstTime: first},
		{Seq: 3, Type: "pod.unhealthy", Time: first.Add(30 * time.Second), Reason: fail, Count: 31, FirstTime: first},
		{Seq: 4, Type: "pod.unhealthy", Time: first.Add(60 * time.Second), Reason: "Liveness probe failed: x", Count: 1, FirstTime: first.Add(60 * time.Second)},
		{Seq: 5, Type: "pod.unhealthy", Time: first.Add(90 * time.Second), Reason: fail, Count: 1, FirstTime: first.Add(90 * time.Second)},
	}
	var got []string
	for _, e := range describeEvents(evs) {
		got = append(got, fmt.Sprintf("%s x%d", e.Message, e.Count))
	}
	want := []string{
		"Running (seq 1) x0",
		fail + " (seq 3) x31",
		"Liveness probe failed: x (seq 4) x1",
		fail + " (seq 5) x1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
