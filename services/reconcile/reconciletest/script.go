// Package reconciletest runs controllers as scripts, without NATS: a table of
// events in, the events the controllers append out.
//
// A Log is an in-memory stream of record with the log's rules (a sequence per
// event, an object's version is the sequence of the newest event on its subject,
// guarded appends, an event id stored once). Each Controller attached to it folds
// the events on its projection's subjects into a projections.MemState as they
// are appended, and Round runs its decision as its reconcile loop would: for the
// owners touched since the round before, those whose appends conflicted and those
// whose wake-up the clock has reached (every owner on the first round and on
// RoundAll), appending each step at its guard.
// Settle runs rounds of every controller until none appends or conflicts.
//
// A controller package offers its loop's parts as Decision (projection,
// decision, prefix of every owner), so a script reads:
//
//	l := reconciletest.NewLog(t)
//	l.Attach(replicaset.Decision())
//	l.Apply(manifest)
//	got := l.Settle() // l.Summary(got): "pod.created Pod/default/web-x @0", ...
package reconciletest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Start is the time of a new Log's clock.
var Start = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// User is who Apply and Delete append as.
const User = "user:alice"

// Log is an in-memory stream of record and the controllers that read it. It is
// not safe for concurrent use.
type Log struct {
	tb testing.TB
	// Now is the log's clock: the time it stores events at and the time rounds
	// decide at. Advance moves it.
	Now      time.Time
	events   []*events.Event
	versions map[string]uint64 // subject -> sequence of its newest event
	ids      map[string]uint64 // event id -> its sequence
	expected map[uint64]uint64 // sequence -> the version its append named
	objects  map[events.Ref]*object.Stored
	ctls     []*Controller
}

// NewLog returns an empty log whose clock reads Start.
func NewLog(tb testing.TB) *Log {
	return &Log{tb: tb, Now: Start, versions: map[string]uint64{}, ids: map[string]uint64{}, expected: map[uint64]uint64{}, objects: map[events.Ref]*object.Stored{}}
}

// Advance moves the clock on by d.
func (l *Log) Advance(d time.Duration) { l.Now = l.Now.Add(d) }

// Events returns every event appended so far, oldest first.
func (l *Log) Events() []*events.Event { return l.events }

// Expected is the version the append of ev named: its guard.
func (l *Log) Expected(ev *events.Event) uint64 { return l.expected[ev.Seq] }

// Version is the sequence of the newest event on ref's subject (0: none).
func (l *Log) Version(ref events.Ref) uint64 { return l.versions[ref.Subject()] }

// Append stores ev as the log does: only if the newest event on its subject is
// at expected (0: the subject holds none), else an error wrapping
// events.ErrConflict; an id already stored is not stored again and returns its
// first sequence. The stored event is ev as a reader decodes it (sequence,
// subject, the log's time); every controller reading its subject folds it at
// once, and a fold error fails the test.
func (l *Log) Append(ev *events.Event, expected uint64) (uint64, error) {
	l.tb.Helper()
	if seq, ok := l.ids[ev.ID]; ok {
		return seq, nil
	}
	if ev.ID == "" || ev.Type == "" || ev.Schema == 0 {
		return 0, fmt.Errorf("append %s: event needs id, type and schema", ev.Object)
	}
	subject := ev.Object.Subject()
	if v := l.versions[subject]; v != expected {
		return 0, &events.ConflictError{Object: ev.Object, Expected: expected, Err: fmt.Errorf("the subject is at %d", v)}
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return 0, fmt.Errorf("append %s: %w", ev.Object, err)
	}
	seq := uint64(len(l.events) + 1)
	stored, err := events.Decode(data, seq, subject)
	if err != nil {
		return 0, err
	}
	stored.Claimed, stored.Time = stored.Time, l.Now
	l.events = append(l.events, stored)
	l.versions[subject] = seq
	l.ids[ev.ID] = seq
	l.expected[seq] = expected
	l.foldObject(stored)
	for _, c := range l.ctls {
		c.fold(stored)
	}
	return seq, nil
}

// foldObject keeps the log's own view of every object, for Apply and Get.
func (l *Log) foldObject(ev *events.Event) {
	l.tb.Helper()
	ref := ev.Object.Object()
	prev := l.objects[ref]
	if prev == nil && ev.Object.Node != "" {
		return // a node's report about an object that no longer exists
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		l.tb.Fatalf("seq %d %s %s: %v", ev.Seq, ev.Type, ev.Object, err)
	}
	if next == nil {
		delete(l.objects, ref)
		return
	}
	l.objects[ref] = next
}

// Get returns the object ref names as the log's events make it (nil: none).
func (l *Log) Get(ref events.Ref) *object.Stored { return l.objects[ref.Object()] }

// List returns the objects of kind in namespace, by name.
func (l *Log) List(kind, namespace string) map[string]object.Object {
	out := map[string]object.Object{}
	for ref, st := range l.objects {
		if ref.Kind == kind && ref.Namespace == namespace {
			out[ref.Name] = st.Object
		}
	}
	return out
}

// Apply applies every document of manifest as User, the way kubectl apply does
// (into namespace default unless a document names one), and returns the events
// appended; a document that does not decode or apply fails the test.
func (l *Log) Apply(manifest string) []*events.Event {
	l.tb.Helper()
	docs, err := object.Decode("script.yaml", []byte(manifest))
	if err != nil {
		l.tb.Fatal(err)
	}
	var out []*events.Event
	for i := range docs {
		doc := &docs[i]
		if doc.Kind.Namespaced && doc.Object.GetNamespace() == "" {
			doc.Object.SetNamespace("default")
		}
		ref := events.Ref{Kind: doc.Kind.Kind, Namespace: doc.Object.GetNamespace(), Name: doc.Object.GetName()}
		cur := l.Get(ref)
		outcome, change, err := object.Apply(doc, cur, types.UID(fmt.Sprintf("uid-%s-%d", strings.ToLower(ref.Kind), len(l.events)+1)))
		if err != nil {
			l.tb.Fatalf("apply %s: %v", ref, err)
		}
		if outcome == object.OutcomeUnchanged {
			continue
		}
		verb := object.Updated
		if cur == nil {
			verb = object.Created
		}
		out = append(out, l.User(object.EventType(doc.Kind, verb), ref, change))
	}
	return out
}

// Delete appends ref's deletion by User: its deleting event when it has a
// grace period (a pod), else its deleted event.
func (l *Log) Delete(ref events.Ref) *events.Event {
	l.tb.Helper()
	k, ok := object.ByKind(ref.Kind)
	if !ok {
		l.tb.Fatalf("delete %s: unknown kind", ref)
	}
	st := l.Get(ref)
	if st == nil {
		l.tb.Fatalf("delete %s: no such object", ref)
	}
	verb := object.Deleted
	if ref.Kind == "Pod" {
		verb = object.Deleting
	}
	return l.User(object.EventType(k, verb), ref, &object.Deletion{UID: string(st.Object.GetUID())})
}

// User appends an event of type typ about ref by User with payload, at ref's
// current version; it fails the test if the log refuses it.
func (l *Log) User(typ string, ref events.Ref, payload any) *events.Event {
	l.tb.Helper()
	return l.As(User, typ, ref, payload)
}

// Node is who Ready appends as.
const Node = "system:node-agent"

// Ready appends what node n reports of the pod ref once it runs ready: a status
// event on the pod's facet in n's inbox.
func (l *Log) Ready(ref events.Ref, n string) *events.Event {
	l.tb.Helper()
	status, err := json.Marshal(corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &metav1.Time{Time: l.Now},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Time{Time: l.Now}}}})
	if err != nil {
		l.tb.Fatal(err)
	}
	ref.Node = n
	return l.As(Node, "pod."+object.Status, ref, &object.StatusChange{Status: status})
}

// As appends an event of type typ about ref by actor with payload, caused by
// nothing, at ref's current version; it fails the test if the log refuses it.
func (l *Log) As(actor, typ string, ref events.Ref, payload any) *events.Event {
	l.tb.Helper()
	ev, err := events.New(typ, ref, actor, payload)
	if err != nil {
		l.tb.Fatal(err)
	}
	ev.ID = fmt.Sprintf("%s-%d", strings.TrimPrefix(strings.TrimPrefix(actor, "user:"), "system:"), len(l.events)+1)
	ev.Correlation = ev.ID
	seq, err := l.Append(ev, l.Version(ref))
	if err != nil {
		l.tb.Fatal(err)
	}
	return l.events[seq-1]
}

// Controller is one controller reading the log: its projection folded into
// State, and its decision.
type Controller struct {
	l      *Log
	name   string
	proj   projections.Projection
	decide reconcile.DecideFunc
	all    []byte
	// State is the controller's projection.
	State *projections.MemState

	cursor  uint64 // the log's sequence the last round decided at
	decided bool   // a round has run: the next is not the first
	retry   map[string]bool
	wakes   map[string]time.Time // owner -> when its newest decision asked to be decided again
	// conflicts counts the appends the log refused for their guard.
	conflicts int
}

// Attach adds the controller d, as its loop would run it, and folds the events
// already in the log into its projection.
func (l *Log) Attach(d reconcile.Decision) *Controller {
	c := &Controller{l: l, name: d.Projection.Name, proj: d.Projection, decide: d.Decide, all: d.AllOwners, State: projections.NewMemState(), retry: map[string]bool{}, wakes: map[string]time.Time{}}
	for _, ev := range l.events {
		c.fold(ev)
	}
	l.ctls = append(l.ctls, c)
	return c
}

// fold folds ev into c's projection if ev is on one of its subjects, from a
// copy of ev of its own (Prepare writes into it).
func (c *Controller) fold(stored *events.Event) {
	c.l.tb.Helper()
	if !c.reads(stored.Subject) {
		return
	}
	ev := *stored
	ev.Decoded = nil
	if c.proj.Prepare != nil {
		c.proj.Prepare(&ev)
	}
	if err := c.proj.Fold(c.State, &ev); err != nil {
		c.l.tb.Fatalf("projection %s rejects seq %d %s %s: %v", c.name, ev.Seq, ev.Type, ev.Object, err)
	}
}

func (c *Controller) reads(subject string) bool {
	for _, filter := range c.proj.Subjects {
		if SubjectMatches(filter, subject) {
			return true
		}
	}
	return false
}

// Decide returns what a round would decide now, appending nothing: for every
// owner when all is set, else for those touched since the last round, those
// whose appends conflicted and those whose wake-up is due (the log's clock has
// reached it).
func (c *Controller) Decide(all bool) []reconcile.Step {
	c.l.tb.Helper()
	_, plan := c.decideOwners(all)
	return plan
}

func (c *Controller) decideOwners(all bool) ([]string, []reconcile.Step) {
	c.l.tb.Helper()
	owners, err := c.owners(all || !c.decided)
	if err != nil {
		c.l.tb.Fatal(err)
	}
	plan, err := c.decide(c.State, owners, c.l.Now)
	if err != nil {
		c.l.tb.Fatalf("%s: %v", c.name, err)
	}
	return owners, plan
}

// Wakes returns the wake-ups the controller's decisions asked for: owner -> time.
func (c *Controller) Wakes() map[string]time.Time { return c.wakes }

// NextWake is the earliest wake-up any controller's decisions asked for (false:
// none). A script advances the clock to it to act out time passing.
func (l *Log) NextWake() (time.Time, bool) {
	var next time.Time
	for _, c := range l.ctls {
		for _, t := range c.wakes {
			if next.IsZero() || t.Before(next) {
				next = t
			}
		}
	}
	return next, !next.IsZero()
}

func (c *Controller) owners(all bool) ([]string, error) {
	seen := map[string]bool{}
	var owners []string
	add := func(o string) {
		if !seen[o] {
			seen[o] = true
			owners = append(owners, o)
		}
	}
	if all {
		err := c.State.Scan(c.all, false, func(k, _ []byte) bool {
			add(string(k[len(c.all):]))
			return true
		})
		return owners, err
	}
	touched, err := reconcile.TouchedSince(c.State, c.cursor)
	for _, o := range touched {
		add(o)
	}
	var again []string
	for o := range c.retry {
		again = append(again, o)
	}
	for o, t := range c.wakes {
		if !t.After(c.l.Now) {
			again = append(again, o)
		}
	}
	sort.Strings(again)
	for _, o := range again {
		add(o)
	}
	return owners, err
}

// Round runs one round as the loop does (every owner on the first) and returns
// the events it appended. An append refused for its guard makes its owner be
// decided again next round; any other refusal fails the test.
func (c *Controller) Round() []*events.Event { return c.round(false) }

// RoundAll runs a round for every owner, as the loop's resync does.
func (c *Controller) RoundAll() []*events.Event { return c.round(true) }

func (c *Controller) round(all bool) []*events.Event {
	c.l.tb.Helper()
	owners, plan := c.decideOwners(all)
	c.decided, c.cursor, c.retry = true, uint64(len(c.l.events)), map[string]bool{}
	for _, o := range owners {
		delete(c.wakes, o)
	}
	return c.Append(plan)
}

// Append appends plan, each step at its guard, as the loop does after a round,
// and returns the events the log stored; an id the log holds already stores
// nothing. A refusal for the guard makes the step's owner be decided again next
// round; any other refusal fails the test. Decide and a later Append act out a
// controller appending what it decided from a state others have moved past.
func (c *Controller) Append(plan []reconcile.Step) []*events.Event {
	c.l.tb.Helper()
	var out []*events.Event
	for _, st := range plan {
		if !st.Wake.IsZero() {
			if t, ok := c.wakes[st.Owner]; !ok || st.Wake.Before(t) {
				c.wakes[st.Owner] = st.Wake
			}
			continue
		}
		before := len(c.l.events)
		seq, err := c.l.Append(st.Action.Event, st.Action.Expected)
		switch {
		case errors.Is(err, events.ErrConflict):
			c.retry[st.Owner] = true
			c.conflicts++
		case err != nil:
			c.l.tb.Fatalf("%s: %v", c.name, err)
		case len(c.l.events) > before:
			out = append(out, c.l.events[seq-1])
		}
	}
	return out
}

// MaxRounds bounds Settle: a script whose controllers still append after this
// many rounds each fails, since they would never be quiet.
const MaxRounds = 100

// Settle runs rounds of every controller, in the order attached, until a pass
// appends nothing and has no append refused for its guard, and returns what
// they appended in order. Controllers that never get there (a guard that can
// never hold retried for ever) fail the test.
func (l *Log) Settle() []*events.Event {
	l.tb.Helper()
	var out []*events.Event
	for range MaxRounds {
		var pass []*events.Event
		conflicts := 0
		for _, c := range l.ctls {
			before := c.conflicts
			pass = append(pass, c.Round()...)
			conflicts += c.conflicts - before
		}
		if len(pass) == 0 && conflicts == 0 {
			return out
		}
		out = append(out, pass...)
	}
	l.tb.Fatalf("controllers not quiet after %d rounds (appending or conflicting); the last appended: %q", MaxRounds, l.Summary(out[max(0, len(out)-5):]))
	return nil
}

// SubjectMatches reports whether subject matches the NATS subject filter
// (tokens separated by dots, "*" one token, ">" one or more at the end).
func SubjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || tok != "*" && tok != s[i] {
			return false
		}
	}
	return len(f) == len(s)
}

// Summary is one line per event of the log, "<type> <object> @<the version its
// append named>", for comparing with a table: "pod.created Pod/default/web-x @0".
func (l *Log) Summary(evs []*events.Event) []string {
	lines := make([]string, len(evs))
	for i, ev := range evs {
		lines[i] = fmt.Sprintf("%s %s @%d", ev.Type, ev.Object, l.expected[ev.Seq])
	}
	return lines
}

// OfType returns the events of evs of type typ.
func OfType(evs []*events.Event, typ string) []*events.Event {
	var out []*events.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}
