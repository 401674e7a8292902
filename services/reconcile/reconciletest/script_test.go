package reconciletest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
)

func TestSubjectMatches(t *testing.T) {
	for _, c := range []struct {
		filter, subject string
		want            bool
	}{
		{"ev.pod.*.*", "ev.pod.default.web", true},
		{"ev.pod.*.*", "ev.pod.default", false},
		{"ev.pod.*.*", "ev.pod.default.web.x", false},
		{"ev.pod.*.*", "ev.replicaset.default.web", false},
		{"ev.node.*.pod.>", "ev.node.n1.pod.default.web", true},
		{"ev.node.*.pod.>", "ev.node.n1.pod", false},
		{"ev.>", "ev.pod.default.web", true},
		{"ev.pod.default.web", "ev.pod.default.web", true},
	} {
		if got := SubjectMatches(c.filter, c.subject); got != c.want {
			t.Errorf("SubjectMatches(%q, %q) = %v, want %v", c.filter, c.subject, got, c.want)
		}
	}
}

const configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {k: v}
`

func TestAppendKeepsTheLogsRules(t *testing.T) {
	l := NewLog(t)
	created := l.Apply(configMap)[0]
	ref := created.Object
	if created.Seq != 1 || created.Subject != "ev.configmap.default.a" || !created.Time.Equal(Start) || l.Version(ref) != 1 || l.Expected(created) != 0 {
		t.Fatalf("created: seq %d subject %s time %s version %d expected %d", created.Seq, created.Subject, created.Time, l.Version(ref), l.Expected(created))
	}
	ev := &events.Event{ID: "x", Type: "configmap.deleted", Object: ref, Actor: "test", Schema: events.SchemaVersion, Payload: json.RawMessage(`{}`)}
	if _, err := l.Append(ev, 0); !errors.Is(err, events.ErrConflict) {
		t.Errorf("append at a stale version = %v, want a conflict", err)
	}
	l.Advance(time.Minute)
	if seq, err := l.Append(ev, 1); err != nil || seq != 2 {
		t.Fatalf("append = %d %v", seq, err)
	}
	if seq, err := l.Append(ev, 1); err != nil || seq != 2 || len(l.Events()) != 2 {
		t.Errorf("a retried id = %d %v with %d events, want the first sequence and nothing stored", seq, err, len(l.Events()))
	}
	if l.Get(ref) != nil || !l.Events()[1].Time.Equal(Start.Add(time.Minute)) {
		t.Errorf("after its deletion: %v at %s", l.Get(ref), l.Events()[1].Time)
	}
}

// labeller is a controller that labels every ConfigMap seen=yes; twice says how
// many appends it plans for each (the second conflicts).
func labeller(twice bool) (projections.Projection, reconcile.DecideFunc) {
	k, _ := object.ByKind("ConfigMap")
	p := projections.Projection{Name: "labeller", Subjects: []string{"ev.configmap.*.*"}, Fold: func(s projections.State, ev *events.Event) error {
		name := ev.Object.Namespace + "/" + ev.Object.Name
		if ev.Type == "configmap.deleted" {
			return errors.Join(s.Delete([]byte("o\x00"+name)), reconcile.Forget(s, name))
		}
		var ch object.Change
		if err := json.Unmarshal(ev.Payload, &ch); err != nil {
			return err
		}
		cm := &corev1.ConfigMap{}
		if err := json.Unmarshal(ch.Object, cm); err != nil {
			return err
		}
		cm.ResourceVersion = ""
		cm.Generation = int64(ev.Seq) // the version, for decide
		raw, _ := json.Marshal(cm)
		return errors.Join(s.Set([]byte("o\x00"+name), raw), reconcile.Touch(s, name, ev.Seq))
	}}
	decide := func(rd projections.Reader, owners []string, _ time.Time) ([]reconcile.Step, error) {
		var plan []reconcile.Step
		for _, o := range owners {
			raw, ok, err := rd.Get([]byte("o\x00" + o))
			if err != nil || !ok {
				return plan, err
			}
			cm := &corev1.ConfigMap{}
			if err := json.Unmarshal(raw, cm); err != nil {
				return nil, err
			}
			if cm.Labels["seen"] == "yes" {
				continue
			}
			v := uint64(cm.Generation)
			cm.Labels, cm.Generation = map[string]string{"seen": "yes"}, 0
			obj, _ := json.Marshal(cm)
			ref := events.Ref{Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name}
			plan = append(plan, reconcile.Step{Owner: o, Action: reconcile.NewAction("labeller", events.Event{}, object.EventType(k, object.Updated), ref, v, "label", &object.Change{Object: obj})})
			if twice {
				again := reconcile.NewAction("labeller", events.Event{ID: "again"}, object.EventType(k, object.Updated), ref, v, "label", &object.Change{Object: obj})
				plan = append(plan, reconcile.Step{Owner: o, Action: again})
			}
		}
		return plan, nil
	}
	return p, decide
}

func TestRoundsDecideAsTheLoopDoes(t *testing.T) {
	l := NewLog(t)
	l.Apply(configMap)
	p, decide := labeller(false)
	c := l.Attach(reconcile.Decision{Name: "test", Projection: p, Decide: decide, AllOwners: []byte("o\x00")})
	// The first round decides for every owner, from what the log held before.
	if got := l.Summary(c.Round()); !reflect.DeepEqual(got, []string{"configmap.updated ConfigMap/default/a @1"}) {
		t.Errorf("first round = %q", got)
	}
	if got := c.Round(); len(got) != 0 {
		t.Errorf("a round with nothing touched appended %q", l.Summary(got))
	}
	l.Apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: b}
`)
	if got := l.Summary(l.Settle()); !reflect.DeepEqual(got, []string{"configmap.updated ConfigMap/default/b @3"}) {
		t.Errorf("settle = %q", got)
	}
	if got := c.RoundAll(); len(got) != 0 {
		t.Errorf("a full round of labelled maps appended %q", l.Summary(got))
	}
	if got := l.Get(events.Ref{Kind: "ConfigMap", Namespace: "default", Name: "b"}).Object.GetLabels(); got["seen"] != "yes" {
		t.Errorf("labels of b = %v", got)
	}
}

func TestAConflictedOwnerIsDecidedAgain(t *testing.T) {
	l := NewLog(t)
	p, decide := labeller(true)
	c := l.Attach(reconcile.Decision{Name: "test", Projection: p, Decide: decide, AllOwners: []byte("o\x00")})
	c.Round()
	l.Apply(configMap)
	if got := l.Summary(c.Round()); !reflect.DeepEqual(got, []string{"configmap.updated ConfigMap/default/a @1"}) {
		t.Fatalf("round = %q, want one append and one conflict", got)
	}
	// Its conflict makes the next round decide for it, touched or not.
	if !c.retry["default/a"] {
		t.Errorf("retry = %v, want the conflicted owner", c.retry)
	}
	if got := c.Round(); len(got) != 0 {
		t.Errorf("the retried owner, labelled, appended %q", l.Summary(got))
	}
}

// stuck is a helper test whose controller names a guard that never holds.
type stuck struct {
	testing.TB
	failed string
}

func (s *stuck) Fatalf(format string, args ...any) {
	s.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestSettleFailsAControllerThatConflictsForEver(t *testing.T) {
	p, _ := labeller(false)
	k, _ := object.ByKind("ConfigMap")
	never := func(projections.Reader, []string, time.Time) ([]reconcile.Step, error) {
		ref := events.Ref{Kind: "ConfigMap", Namespace: "default", Name: "a"}
		a := reconcile.NewAction("stale", events.Event{}, object.EventType(k, object.Deleted), ref, 99, "", &object.Deletion{})
		return []reconcile.Step{{Owner: "default/a", Action: a}}, nil
	}
	s := &stuck{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l := NewLog(s)
		l.Apply(configMap)
		l.Attach(reconcile.Decision{Name: "test", Projection: p, Decide: never, AllOwners: []byte("o\x00")})
		l.Settle()
	}()
	<-done
	if !strings.Contains(s.failed, "not quiet") {
		t.Errorf("Settle of a controller conflicting for ever: failure %q", s.failed)
	}
}

// A wake-up brings its owner back once the clock reaches it, not before, and
// deciding again drops it.
func TestWakeUpsFollowTheClock(t *testing.T) {
	p, _ := labeller(false)
	var decided []time.Time
	wake := func(_ projections.Reader, owners []string, now time.Time) ([]reconcile.Step, error) {
		var plan []reconcile.Step
		for _, o := range owners {
			decided = append(decided, now)
			if len(decided) == 1 {
				plan = append(plan, reconcile.Step{Owner: o, Wake: now.Add(time.Minute)})
			}
		}
		return plan, nil
	}
	l := NewLog(t)
	l.Apply(configMap)
	c := l.Attach(reconcile.Decision{Name: "test", Projection: p, Decide: wake, AllOwners: []byte("o\x00")})
	l.Settle()
	if next, ok := l.NextWake(); !ok || !next.Equal(Start.Add(time.Minute)) {
		t.Fatalf("next wake-up = %s %v, want %s", next, ok, Start.Add(time.Minute))
	}
	l.Advance(59 * time.Second)
	l.Settle()
	if len(decided) != 1 {
		t.Fatalf("decided %d times before the wake-up, want 1", len(decided))
	}
	l.Advance(time.Second)
	l.Settle()
	if len(decided) != 2 || !decided[1].Equal(Start.Add(time.Minute)) {
		t.Fatalf("decided at %v, want the second at the wake-up", decided)
	}
	if len(c.Wakes()) != 0 {
		t.Errorf("wake-ups %v after a decision that asked for none", c.Wakes())
	}
}
