package podgc_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/controlplane"
	"github.com/wake-run/wake/services/controlplane/controlplanetest"
	"github.com/wake-run/wake/services/podgc"
	"github.com/wake-run/wake/services/query"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var (
	discard    = controlplanetest.Discard
	podKind, _ = object.ByKind("Pod")
)

func TestMain(m *testing.M) { eventstest.LeakMain(m) }

func ofType(evs []*events.Event, typ string) []*events.Event {
	var out []*events.Event
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// The corpus's pod names a node that never registered: its deletion finishes at
// once, and a pod of the same name can be created again.
func TestDeletingAPodOnANodeThatNeverRegisteredFinishesAtOnce(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{})
	ctx := context.Background()
	file := "../../testdata/corpus/k8s-examples/website__pods__pod-nginx-specific-node.yaml"
	manifest, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controlplanetest.Write(t, c, client.ModeCreate, string(manifest)); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, podKind, "default", "nginx"); err != nil {
		t.Fatal(err)
	}
	gone := func() bool {
		_, err := c.Query.Get(ctx, podKind, "default", "nginx")
		if err != nil && !errors.Is(err, query.ErrNotFound) {
			t.Fatal(err)
		}
		return err != nil
	}
	// At once: well inside one resync of the collector (30s) and any grace period.
	eventstest.EventuallyWithin(t, 10*time.Second, "pod nginx on foo-node gone after its deletion", gone)

	evs := eventstest.ReadAll(t, srv.Log(), events.Ref{Kind: "Pod", Namespace: "default", Name: "nginx"}.Subject())
	deleting, deleted := ofType(evs, "pod.deleting"), ofType(evs, "pod.deleted")
	if len(deleting) != 1 || len(deleted) != 1 {
		t.Fatalf("events %d deleting and %d deleted, want one each", len(deleting), len(deleted))
	}
	d := deleted[0]
	if d.Actor != podgc.Actor || !strings.Contains(d.Reason, "node foo-node does not exist (it never registered)") {
		t.Errorf("deleted by %q: %q", d.Actor, d.Reason)
	}
	if d.Cause != deleting[0].ID || d.Correlation != deleting[0].Correlation {
		t.Errorf("deleted: cause %q correlation %q, want the user's deletion %q/%q", d.Cause, d.Correlation, deleting[0].ID, deleting[0].Correlation)
	}

	// The name is free: the same manifest creates a new pod, not an update.
	if _, err := controlplanetest.Write(t, c, client.ModeCreate, string(manifest)); err != nil {
		t.Fatal(err)
	}
	if gone() {
		t.Error("the re-created pod nginx does not exist")
	}
}

// Terminated pods beyond the control plane's threshold are deleted, oldest first.
func TestTerminatedPodsBeyondTheThresholdAreDeleted(t *testing.T) {
	srv, c := controlplanetest.Start(t, controlplane.Config{TerminatedPodGCThreshold: 1})
	log := srv.Log()
	controlplanetest.RegisterNode(t, log, "n1", "4")
	names := []string{"first", "second", "third", "running"}
	for _, name := range names {
		if _, err := controlplanetest.Write(t, c, client.ModeCreate, `apiVersion: v1
kind: Pod
metadata: {name: `+name+`}
spec:
  nodeName: n1
  restartPolicy: Never
  containers: [{name: c, image: busybox:1.36, command: ["true"]}]
`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // creation times a second apart, as the fold orders them
	}
	// The node reports the phases, on each pod's facet, as its agent does.
	for i, name := range names {
		phase := corev1.PodSucceeded
		switch i {
		case 1:
			phase = corev1.PodFailed
		case 3:
			phase = corev1.PodRunning
		}
		reportPhase(t, log, name, "n1", phase)
	}
	deletingOf := func(name string) *events.Event {
		evs := ofType(eventstest.ReadAll(t, log, events.Ref{Kind: "Pod", Namespace: "default", Name: name}.Subject()), "pod.deleting")
		if len(evs) == 0 {
			return nil
		}
		return evs[0]
	}
	eventstest.EventuallyWithin(t, 10*time.Second, "the two oldest terminated pods deleting", func() bool {
		return deletingOf("first") != nil && deletingOf("second") != nil
	})
	for _, name := range []string{"first", "second"} {
		ev := deletingOf(name)
		var d object.Deletion
		_ = json.Unmarshal(ev.Payload, &d)
		if ev.Actor != podgc.Actor || d.GracePeriodSeconds == nil || *d.GracePeriodSeconds != 0 ||
			!strings.Contains(ev.Reason, "terminated pods exceed the threshold of 1") {
			t.Errorf("%s: deleting by %q with %s: %q", name, ev.Actor, ev.Payload, ev.Reason)
		}
	}
	time.Sleep(500 * time.Millisecond) // rounds that would delete too many have run
	for _, name := range []string{"third", "running"} {
		if ev := deletingOf(name); ev != nil {
			t.Errorf("%s deleted: %q", name, ev.Reason)
		}
	}
}

func reportPhase(t *testing.T, log *events.Log, name, node string, phase corev1.PodPhase) {
	t.Helper()
	ctx := context.Background()
	ref := events.Ref{Kind: "Pod", Namespace: "default", Name: name, Node: node}
	st, _ := json.Marshal(corev1.PodStatus{Phase: phase})
	for attempt := 0; ; attempt++ {
		version, err := log.SubjectVersion(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := events.New("pod.status", ref, "system:node:"+node, &object.StatusChange{Status: st})
		if _, err = log.Append(ctx, ev, version); err == nil {
			return
		} else if !errors.Is(err, events.ErrConflict) || attempt > 20 {
			t.Fatal(err)
		}
	}
}

func appendPod(t *testing.T, log *events.Log, name, node string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
	pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	raw, _ := json.Marshal(pod)
	ev, _ := events.New("pod.created", events.Ref{Kind: "Pod", Namespace: "default", Name: name}, "user:alice", &object.Change{Object: raw})
	if _, err := log.Append(context.Background(), ev, 0); err != nil {
		t.Fatal(err)
	}
}

// Pods bound to a node that was deleted, or that never registered, are deleted
// once the quarantine has passed; pods of a live node stay.
func TestOrphanedPodsAreDeletedAfterTheQuarantine(t *testing.T) {
	s := eventstest.Start(t)
	ctx := context.Background()
	controlplanetest.RegisterNode(t, s.Log, "n1", "4")
	controlplanetest.RegisterNode(t, s.Log, "n2", "4")
	appendPod(t, s.Log, "on-n1", "n1")
	appendPod(t, s.Log, "on-n2", "n2")
	appendPod(t, s.Log, "on-nowhere", "foo-node")
	nodeRef := events.Ref{Kind: "Node", Name: "n1"}
	version, err := s.Log.SubjectVersion(ctx, nodeRef)
	if err != nil {
		t.Fatal(err)
	}
	del, _ := events.New("node.deleted", nodeRef, "user:alice", &object.Deletion{UID: "uid-n1"})
	if _, err := s.Log.Append(ctx, del, version); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	controlplanetest.RunController(t, s.Log, podgc.Projection(),
		podgc.New(s.Log, discard, podgc.WithQuarantine(2*time.Second), podgc.WithResync(200*time.Millisecond, 50*time.Millisecond)))

	deletedOf := func(name string) *events.Event {
		evs := ofType(eventstest.ReadAll(t, s.Log, events.Ref{Kind: "Pod", Namespace: "default", Name: name}.Subject()), "pod.deleted")
		if len(evs) == 0 {
			return nil
		}
		return evs[0]
	}
	eventstest.EventuallyWithin(t, 10*time.Second, "the orphans deleted", func() bool {
		return deletedOf("on-n1") != nil && deletedOf("on-nowhere") != nil
	})
	if waited := time.Since(started); waited < 1500*time.Millisecond {
		t.Errorf("orphans deleted after %s, inside their quarantine of 2s", waited)
	}
	if ev := deletedOf("on-n1"); ev.Actor != podgc.Actor || ev.Cause != del.ID || !strings.Contains(ev.Reason, "node n1 does not exist (it was deleted)") {
		t.Errorf("on-n1: deleted by %q cause %q: %q", ev.Actor, ev.Cause, ev.Reason)
	}
	if ev := deletedOf("on-nowhere"); ev.Actor != podgc.Actor || !strings.Contains(ev.Reason, "node foo-node does not exist (it never registered)") {
		t.Errorf("on-nowhere: deleted by %q: %q", ev.Actor, ev.Reason)
	}
	if ev := deletedOf("on-n2"); ev != nil {
		t.Errorf("the pod of the live node n2 was deleted: %q", ev.Reason)
	}
}
