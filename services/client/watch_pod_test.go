package client_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
)

// A pod's status comes from its node's facet: a pod watch sees it, and ignores the
// copy of the pod the dispatcher puts in the node's inbox.
func TestWatchPodsSeesStatusFromTheNode(t *testing.T) {
	_, c := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k, _ := object.ByKind("Pod")
	type seen struct {
		typ   string
		phase corev1.PodPhase
	}
	got := make(chan seen, 16)
	done := make(chan error, 1)
	listed := make(chan struct{})
	go func() {
		done <- c.Watch(ctx, k, "default", "", func([]object.Object) error { close(listed); return nil }, func(typ string, obj object.Object) error {
			got <- seen{typ, obj.(*corev1.Pod).Status.Phase}
			return nil
		})
	}()
	<-listed // a change after the list is delivered, not listed
	write(t, c, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox}]\n")
	next := func(what string) seen {
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s", what)
			return seen{}
		}
	}
	if s := next("ADDED"); s.typ != "ADDED" {
		t.Fatalf("first change %+v", s)
	}
	// The scheduler reports the pod unschedulable (no nodes): Pending.
	if s := next("scheduler's report"); s.typ != "MODIFIED" || s.phase != corev1.PodPending {
		t.Fatalf("second change %+v, want MODIFIED Pending", s)
	}
	// The node reports it running, on the pod's facet in its inbox.
	status, _ := json.Marshal(corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.9"})
	ev, _ := events.New("pod.status", events.Ref{Kind: "Pod", Namespace: "default", Name: "p", Node: "n1"}, "system:node:n1", &object.StatusChange{Status: status})
	if _, err := c.Log.Append(ctx, ev, 0); err != nil {
		t.Fatal(err)
	}
	if s := next("the node's report"); s.typ != "MODIFIED" || s.phase != corev1.PodRunning {
		t.Fatalf("third change %+v, want MODIFIED Running", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
