package cli

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
)

// eventRow is one line of `wake events`.
type eventRow struct {
	seq                        uint64
	actor, typ, namespace, obj string
	rejected                   string // the REJECTED column
}

func eventRows(t *testing.T, out string) []eventRow {
	t.Helper()
	rows := lines(out)
	if len(rows) == 0 {
		return nil
	}
	if strings.Join(rows[0], " ") != "SEQ TIME ACTOR TYPE NAMESPACE OBJECT REJECTED CAUSE REASON" {
		t.Fatalf("events header = %q", rows[0])
	}
	var out2 []eventRow
	for _, r := range rows[1:] {
		seq, err := strconv.ParseUint(r[0], 10, 64)
		if err != nil || len(r) < 9 {
			t.Fatalf("events row %q", r)
		}
		out2 = append(out2, eventRow{seq, r[2], r[3], r[4], r[5], r[6]})
	}
	return out2
}

func TestEvents(t *testing.T) {
	h := newHarness(t)
	h.ok("apply", "-f", h.file("web.yaml", webYAML))
	h.ok("apply", "-f", h.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"))
	h.ok("scale", "deploy", "web", "--replicas=2")
	h.ok("create", "namespace", "shop")
	h.ok("delete", "cm", "web")
	me := client.DefaultActor()

	all := eventRows(t, h.ok("events").out)
	want := []eventRow{
		{1, controlplane.Actor, "namespace.created", "-", "namespace/default", "-"},
		{2, me, "deployment.created", "default", "deployment.apps/web", "-"},
		{3, me, "configmap.created", "default", "configmap/web", "-"},
		{4, me, "deployment.updated", "default", "deployment.apps/web", "-"},
		{5, me, "namespace.created", "-", "namespace/shop", "-"},
		{6, me, "configmap.deleted", "default", "configmap/web", "-"},
	}
	if !slices.Equal(all, want) {
		t.Fatalf("events =\n%v\nwant\n%v", all, want)
	}

	filters := []struct {
		args []string
		seqs []uint64
	}{
		{[]string{"--for", "deploy/web"}, []uint64{2, 4}},
		{[]string{"--for", "deployments.apps/web"}, []uint64{2, 4}},
		{[]string{"--for", "cm/web"}, []uint64{3, 6}},
		{[]string{"--for", "ns/shop"}, []uint64{5}},
		{[]string{"--kind", "configmap"}, []uint64{3, 6}},
		{[]string{"--actor", me}, []uint64{2, 3, 4, 5, 6}},
		{[]string{"--actor", controlplane.Actor}, []uint64{1}},
		{[]string{"--type", "deployment."}, []uint64{2, 4}},
		{[]string{"--type", "configmap.deleted"}, []uint64{6}},
		{[]string{"--type", "deployment"}, nil}, // a type without the dot is exact
		{[]string{"--from", "3", "--to", "5"}, []uint64{3, 4, 5}},
		{[]string{"--from", "4"}, []uint64{4, 5, 6}},
		{[]string{"--to", "2"}, []uint64{1, 2}},
		{[]string{"--from", "2", "--to", "5", "--type", "deployment."}, []uint64{2, 4}},
		{[]string{"-n", "default"}, []uint64{2, 3, 4, 6}},
		{[]string{"--actor", "user:nobody"}, nil},
	}
	for _, f := range filters {
		t.Run(strings.Join(f.args, " "), func(t *testing.T) {
			r := h.ok(append([]string{"events"}, f.args...)...)
			var got []uint64
			for _, row := range eventRows(t, r.out) {
				got = append(got, row.seq)
			}
			if !slices.Equal(got, f.seqs) {
				t.Errorf("events %v = %v, want %v", f.args, got, f.seqs)
			}
			if len(f.seqs) == 0 && !strings.Contains(r.errOut, "No events found.") {
				t.Errorf("an empty result printed no notice: %q", r.errOut)
			}
		})
	}

	r := h.ok("events", "-o", "json")
	jsonLines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	if len(jsonLines) != len(want) {
		t.Fatalf("events -o json printed %d lines, want %d", len(jsonLines), len(want))
	}
	for i, l := range jsonLines {
		var ev struct {
			Seq         uint64          `json:"seq"`
			Subject     string          `json:"subject"`
			ID          string          `json:"id"`
			Type        string          `json:"type"`
			Actor       string          `json:"actor"`
			Correlation string          `json:"correlation"`
			Payload     json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, l)
		}
		if ev.Seq != want[i].seq || ev.Type != want[i].typ || ev.Actor != want[i].actor || ev.ID == "" || ev.Correlation == "" || !strings.HasPrefix(ev.Subject, "ev.") {
			t.Errorf("line %d = %+v, want %+v", i+1, ev, want[i])
		}
		if ev.Type == "deployment.created" && !strings.Contains(string(ev.Payload), `"replicas":3`) {
			t.Errorf("the created event's payload lacks the object: %s", ev.Payload)
		}
	}
	wide := lines(h.ok("events", "-o", "wide", "--for", "deploy/web").out)
	if len(wide) != 3 || wide[0][len(wide[0])-4] != "ID" || wide[0][len(wide[0])-1] != "REJECTION" {
		t.Errorf("events -o wide = %q", wide)
	}
	if r := h.fails("events", "--from", "yesterday"); !strings.Contains(r.errLine, "RFC 3339") {
		t.Errorf("events --from yesterday: %q", r.errLine)
	}
	if r := h.fails("events", "--for", "web"); !strings.Contains(r.errLine, "TYPE/NAME") {
		t.Errorf("events --for web: %q", r.errLine)
	}
}
