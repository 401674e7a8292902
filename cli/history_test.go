package cli

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/query"
)

// auditEvent is one line of `wake events -o json`.
type auditEvent struct {
	Seq    uint64    `json:"seq"`
	Stored time.Time `json:"stored"`
	ID     string    `json:"id"`
	Type   string    `json:"type"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	Cause  string    `json:"cause"`
}

func auditJSON(t *testing.T, out string) []auditEvent {
	t.Helper()
	var evs []auditEvent
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var e auditEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("events -o json line %q: %v", l, err)
		}
		evs = append(evs, e)
	}
	return evs
}

// A scripted scenario by two people: every audit filter returns exactly its events.
func TestAuditFiltersTwoActors(t *testing.T) {
	h := newHarness(t)                                                                                                // no controllers: every event below is a person's
	h.ok("apply", "-f", h.file("web.yaml", webYAML), "--as", "alice")                                                 // 2
	h.ok("scale", "deploy/web", "--replicas=5", "--as", "bob")                                                        // 3
	h.ok("set", "image", "deploy/web", "web=nginx:1.27", "--as", "alice")                                             // 4
	h.ok("apply", "-f", h.file("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"), "--as", "bob") // 5
	h.ok("delete", "deploy", "web", "--as", "bob")                                                                    // 6
	h.ok("delete", "cm/web", "--as", "alice")                                                                         // 7

	all := auditJSON(t, h.ok("events", "-o", "json").out)
	if len(all) != 7 {
		t.Fatalf("%d events, want 7: %+v", len(all), all)
	}
	wantTypes := []string{"namespace.created", "deployment.created", "deployment.updated", "deployment.updated",
		"configmap.created", "deployment.deleted", "configmap.deleted"}
	for i, e := range all {
		if e.Seq != uint64(i+1) || e.Type != wantTypes[i] || e.ID == "" || e.Stored.IsZero() {
			t.Fatalf("event %d = %+v, want seq %d type %s", i, e, i+1, wantTypes[i])
		}
	}
	if all[3].Reason != "wake set image --as alice deploy/web web=nginx:1.27" {
		t.Errorf("set image's reason = %q", all[3].Reason)
	}
	at := func(i int) string { return all[i-1].Stored.Format(time.RFC3339Nano) }

	cases := []struct {
		args []string
		seqs []uint64
	}{
		{[]string{"--actor", "user:alice"}, []uint64{2, 4, 7}},
		{[]string{"--actor", "user:bob"}, []uint64{3, 5, 6}},
		{[]string{"--actor", "user:bob", "--for", "deploy/web"}, []uint64{3, 6}},
		{[]string{"--actor", "user:alice", "--kind", "deploy", "--type", "deployment.updated"}, []uint64{4}},
		{[]string{"--type", "deployment.updated"}, []uint64{3, 4}},
		{[]string{"--type", "configmap."}, []uint64{5, 7}},
		{[]string{"--kind", "configmaps", "--actor", "user:alice"}, []uint64{7}},
		{[]string{"--for", "deployment.apps/web"}, []uint64{2, 3, 4, 6}},
		{[]string{"-n", "default", "--actor", "user:bob"}, []uint64{3, 5, 6}},
		{[]string{"-n", "other"}, nil},
		{[]string{"--from", at(3)}, []uint64{3, 4, 5, 6, 7}},
		{[]string{"--from", at(3), "--to", at(5)}, []uint64{3, 4, 5}},
		{[]string{"--to", at(2)}, []uint64{1, 2}},
		{[]string{"--from", "4", "--to", "6", "--actor", "user:bob"}, []uint64{5, 6}},
		{[]string{"--since", "1h", "--actor", "user:alice"}, []uint64{2, 4, 7}},
		{[]string{"--since", "1h", "--from", "5"}, []uint64{5, 6, 7}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got []uint64
			for _, e := range auditJSON(t, h.ok(append([]string{"events", "-o", "json"}, tc.args...)...).out) {
				got = append(got, e.Seq)
			}
			if !slices.Equal(got, tc.seqs) {
				t.Errorf("events %v = %v, want %v", tc.args, got, tc.seqs)
			}
			// The table shows the same events, each with its actor.
			rows := eventRows(t, h.run(append([]string{"events"}, tc.args...)...).out)
			if len(rows) != len(tc.seqs) {
				t.Errorf("table: %d rows, want %d", len(rows), len(tc.seqs))
			}
			for i, r := range rows {
				if r.seq != tc.seqs[i] || r.actor != all[r.seq-1].Actor {
					t.Errorf("table row %+v, want seq %d by %s", r, tc.seqs[i], all[tc.seqs[i]-1].Actor)
				}
			}
		})
	}
	if r := h.fails("get", "deploy", "--as", "bad name"); !strings.Contains(r.errLine, "--as") {
		t.Errorf("--as with a space: %q", r.errLine)
	}
	if r := h.fails("set", "image", "deploy/web", "web=x"); !strings.Contains(r.errLine, `"web" not found`) {
		t.Errorf("set image of a deleted deployment: %q", r.errLine)
	}
}

// settled waits until the log has been quiet for a while (controllers done) and
// returns its last sequence.
func (h *harness) settled() uint64 {
	h.t.Helper()
	last := h.lastSeq()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		time.Sleep(400 * time.Millisecond)
		now := h.lastSeq()
		if now == last {
			return now
		}
		last = now
	}
	h.t.Fatalf("the log never settled (at %d)", last)
	return 0
}

func TestTimeTravelDiffAndWhy(t *testing.T) {
	h := newHarnessWith(t, controlplane.Config{SnapshotEvery: 25})
	controlplanetest.RegisterNode(t, h.srv.Log(), "node-a", "8")
	two := strings.Replace(webYAML, "replicas: 3", "replicas: 2", 1)
	h.ok("apply", "-f", h.file("web.yaml", two), "--as", "alice")
	seqA := h.settled()
	deployA := h.ok("get", "deploy", "web", "-o", "yaml").out
	podsA := h.ok("get", "pods", "-o", "name").out
	if n := strings.Count(podsA, "pod/"); n != 2 {
		t.Fatalf("%d pods after applying 2 replicas:\n%s", n, podsA)
	}

	h.ok("scale", "deploy/web", "--replicas=3", "--as", "bob")
	h.ok("set", "image", "deploy/web", "web=nginx:1.27", "--as", "alice")
	seqB := h.settled()
	deployB := h.ok("get", "deploy", "web", "-o", "yaml").out
	podsB := h.ok("get", "pods", "-o", "name").out
	if deployA == deployB || podsA == podsB {
		t.Fatal("the changes changed nothing")
	}

	check := func(when string) {
		t.Helper()
		for _, c := range []struct {
			at, want string
			args     []string
		}{
			{strconv.FormatUint(seqA, 10), deployA, []string{"get", "deploy", "web", "-o", "yaml"}},
			{strconv.FormatUint(seqB, 10), deployB, []string{"get", "deploy", "web", "-o", "yaml"}},
			{strconv.FormatUint(seqA, 10), podsA, []string{"get", "pods", "-o", "name"}},
			{strconv.FormatUint(seqB, 10), podsB, []string{"get", "pods", "-o", "name"}},
		} {
			r := h.ok(append(c.args, "--at", c.at)...)
			if r.out != c.want {
				t.Errorf("%s: %v --at %s =\n%s\nwant\n%s", when, c.args, c.at, r.out, c.want)
			}
			if !strings.HasPrefix(r.errOut, "As of sequence "+c.at+" (") {
				t.Errorf("%s: --at %s printed %q on stderr", when, c.at, r.errOut)
			}
		}
	}
	check("live")
	// Snapshots every 25 events, taken in the background: the answers below
	// start from one.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var row []string
		for _, r := range lines(h.ok("projections").out)[1:] {
			if r[0] == "query" {
				row = r
			}
		}
		if row != nil && row[4] != "-" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the query projection took no snapshot: %q", row)
		}
	}
	check("with snapshots")

	// A moment given as a time: the stored time of the last event at seqA.
	evs := auditJSON(t, h.ok("events", "-o", "json", "--from", strconv.FormatUint(seqA, 10), "--to", strconv.FormatUint(seqA, 10)).out)
	if len(evs) != 1 {
		t.Fatalf("event %d: %+v", seqA, evs)
	}
	if got := h.ok("get", "deploy", "web", "-o", "yaml", "--at", evs[0].Stored.Format(time.RFC3339Nano)).out; got != deployA {
		t.Errorf("--at the time of sequence %d =\n%s\nwant\n%s", seqA, got, deployA)
	}
	if r := h.ok("get", "deploy", "--at", "1"); !strings.Contains(r.errOut, "No resources found") {
		t.Errorf("deployments at sequence 1: %q %q", r.out, r.errOut)
	}
	if r := h.fails("get", "deploy", "--at", "99999"); !strings.Contains(r.errLine, "sequence 99999 is after the newest event of the log") {
		t.Errorf("--at beyond the log: %q", r.errLine)
	}
	if r := h.fails("get", "deploy", "--at", "yesterday"); !strings.Contains(r.errLine, `--at "yesterday": give a log sequence`) {
		t.Errorf("--at yesterday: %q", r.errLine)
	}
	if d := h.ok("describe", "deploy", "web", "--at", strconv.FormatUint(seqA, 10)).out; !strings.Contains(d, "2 desired") || strings.Contains(d, "nginx:1.27") {
		t.Errorf("describe --at %d:\n%s", seqA, d)
	}

	diff := h.ok("diff", "deploy/web", "--from", strconv.FormatUint(seqA, 10), "--to", strconv.FormatUint(seqB, 10)).out
	for _, want := range []string{"-  replicas: 2", "+  replicas: 3", "-      - image: nginx:1.25", "+      - image: nginx:1.27", "Changed by:"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	changed := strings.Index(diff, "Changed by:")
	if changed < 0 {
		t.Fatalf("diff names nobody:\n%s", diff)
	}
	var people []string
	for _, r := range lines(diff[changed:])[2:] {
		if strings.HasPrefix(r[2], "user:") {
			people = append(people, r[2]+" "+r[3])
		}
	}
	if !slices.Equal(people, []string{"user:bob deployment.updated", "user:alice deployment.updated"}) {
		t.Errorf("diff's changes by people = %q", people)
	}
	if r := h.fails("why", "pod", "nope"); r.errLine != `Error from server (NotFound): pods "nope" not found` {
		t.Errorf("why of a missing pod: %q", r.errLine)
	}
	if r := h.fails("diff", "deploy/web"); !strings.Contains(r.errLine, "--from is required") {
		t.Errorf("diff without --from: %q", r.errLine)
	}

	// why: a pod of the new ReplicaSet walks back to alice's set image.
	newPod := ""
	for _, p := range strings.Fields(podsB) {
		if !strings.Contains(podsA, p) {
			newPod = p
		}
	}
	var why struct {
		Steps []query.Step `json:"steps"`
		Note  string       `json:"note"`
	}
	if err := json.Unmarshal([]byte(h.ok("why", newPod, "-o", "json").out), &why); err != nil {
		t.Fatal(err)
	}
	var chain []string
	for i, st := range why.Steps {
		chain = append(chain, st.Type+" by "+st.Actor)
		if i+1 < len(why.Steps) && st.Cause != why.Steps[i+1].ID {
			t.Errorf("step %d's cause %s is not step %d's id %s", i, st.Cause, i+1, why.Steps[i+1].ID)
		}
	}
	if len(why.Steps) < 4 || why.Note != "" {
		t.Fatalf("why %s = %q (note %q)", newPod, chain, why.Note)
	}
	first, last := why.Steps[0], why.Steps[len(why.Steps)-1]
	if first.Type != "pod.bound" || first.Actor != "system:scheduler" || !strings.Contains(first.Detail, "score") {
		t.Errorf("why starts with %+v, want the scheduler's binding with its score", first)
	}
	if why.Steps[1].Type != "pod.created" || why.Steps[1].Actor != "system:replicaset-controller" {
		t.Errorf("why's second step %+v, want the replicaset controller creating the pod", why.Steps[1])
	}
	if !strings.HasPrefix(why.Steps[2].Type, "replicaset.") || why.Steps[2].Actor != "system:deployment-controller" {
		t.Errorf("why's third step %+v, want the deployment controller's replicaset", why.Steps[2])
	}
	if last.Type != "deployment.updated" || last.Actor != "user:alice" || last.Cause != "" ||
		last.Reason != "wake set image --as alice deploy/web web=nginx:1.27" {
		t.Errorf("why ends with %+v, want alice's set image", last)
	}
	text := h.ok("why", "pod", strings.TrimPrefix(newPod, "pod/")).out
	if !strings.Contains(text, "bound by system:scheduler") || !strings.Contains(text, "← #") || !strings.Contains(text, "event "+last.ID) {
		t.Errorf("why text:\n%s", text)
	}

	// The audit table shows each event's cause as the sequence of the causing
	// event, also when that event is not among the rows shown.
	all := auditJSON(t, h.ok("events", "-o", "json").out)
	idOf := map[uint64]string{}
	for _, e := range all {
		idOf[e.Seq] = e.ID
	}
	caused := 0
	for _, r := range lines(h.ok("events", "--kind", "pod").out)[1:] {
		seq, _ := strconv.ParseUint(r[0], 10, 64)
		e := all[seq-1]
		if e.Cause == "" {
			if r[7] != "-" {
				t.Errorf("event %d has no cause but shows %q", seq, r[7])
			}
			continue
		}
		caused++
		causeSeq, err := strconv.ParseUint(strings.TrimPrefix(r[7], "#"), 10, 64)
		if err != nil || idOf[causeSeq] != e.Cause {
			t.Errorf("event %d shows cause %q, its cause is %s", seq, r[7], e.Cause)
		}
	}
	if caused == 0 {
		t.Error("no pod event shows a cause")
	}

	// After a full rebuild (from the log, then from snapshots) the answers are
	// the same.
	h.ok("replay", "query", "--from-log")
	check("rebuilt from the log")
	h.ok("projections", "snapshot", "query")
	h.ok("replay", "query")
	check("rebuilt from a snapshot")

	// A deleted object still has a past, and why names who deleted it.
	h.ok("delete", "deploy", "web", "--as", "bob")
	h.settled()
	if r := h.fails("get", "deploy", "web"); !strings.Contains(r.errLine, "not found") {
		t.Errorf("get after delete: %q", r.errLine)
	}
	check("after the deletion")
	text = h.ok("why", "deploy/web").out
	if !strings.Contains(text, "by user:bob") || !strings.Contains(text, "deployment.delet") {
		t.Errorf("why of a deleted deployment:\n%s", text)
	}
}
