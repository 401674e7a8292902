package object_test

import (
	"errors"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
)

const boundPodYAML = `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers: [{name: c, image: busybox}]
`

func facet(node string) *events.Ref {
	return &events.Ref{Kind: "Pod", Namespace: "default", Name: "p", Node: node}
}

func TestFoldBindingAndNodeFacet(t *testing.T) {
	pod := withUID(decodeOne(t, boundPodYAML), "u")
	cases := []struct {
		name        string
		evs         []objectEvent
		wantErr     bool
		wantNode    string
		wantSched   corev1.ConditionStatus
		wantMessage string
		wantRV      string
		wantVersion uint64
		wantPhase   corev1.PodPhase
	}{
		{name: "bound sets the node and PodScheduled", evs: []objectEvent{
			{verb: object.Created, obj: pod},
			{verb: object.Bound, obj: pod, payload: `{"node":"n1","message":"score 87"}`},
		}, wantNode: "n1", wantSched: corev1.ConditionTrue, wantRV: "11", wantVersion: 11, wantPhase: corev1.PodPending},
		{name: "unschedulable keeps the pod pending with the reason", evs: []objectEvent{
			{verb: object.Created, obj: pod},
			{verb: object.Unschedulable, obj: pod, payload: `{"message":"0/3 nodes are available: 3 Insufficient cpu."}`},
		}, wantSched: corev1.ConditionFalse, wantMessage: "0/3 nodes are available: 3 Insufficient cpu.", wantRV: "11", wantVersion: 11, wantPhase: corev1.PodPending},
		{name: "a second bind to another node is refused", evs: []objectEvent{
			{verb: object.Created, obj: pod},
			{verb: object.Bound, obj: pod, payload: `{"node":"n1"}`},
			{verb: object.Bound, obj: pod, payload: `{"node":"n2"}`},
		}, wantErr: true},
		{name: "unschedulable after a bind is refused", evs: []objectEvent{
			{verb: object.Created, obj: pod},
			{verb: object.Bound, obj: pod, payload: `{"node":"n1"}`},
			{verb: object.Unschedulable, obj: pod, payload: `{"message":"x"}`},
		}, wantErr: true},
		{name: "status from the node facet changes resourceVersion but not the subject version", evs: []objectEvent{
			{verb: object.Created, obj: pod},
			{verb: object.Bound, obj: pod, payload: `{"node":"n1"}`},
			{verb: object.Assigned, ref: facet("n1"), payload: `{}`},
			{verb: object.Status, ref: facet("n1"), status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.0.5"}},
		}, wantNode: "n1", wantRV: "13", wantVersion: 11, wantPhase: corev1.PodRunning},
		{name: "a node holding the pod for its volumes reports a failed-mount, folded as its status", evs: []objectEvent{
			{verb: object.Created, obj: pod},
			{verb: object.Bound, obj: pod, payload: `{"node":"n1"}`},
			{verb: object.Assigned, ref: facet("n1"), payload: `{}`},
			{verb: object.FailedMount, ref: facet("n1"), status: corev1.PodStatus{Phase: corev1.PodPending, HostIP: "10.1.0.1"}},
		}, wantNode: "n1", wantRV: "13", wantVersion: 11, wantPhase: corev1.PodPending},
		{name: "a revoked pod's later pod of the name is left as it is", evs: []objectEvent{
			{verb: object.Created, obj: pod},
			{verb: object.Bound, obj: pod, payload: `{"node":"n1"}`},
			{verb: object.Revoked, ref: facet("n1"), payload: `{"uid":"earlier"}`},
		}, wantNode: "n1", wantRV: "11", wantVersion: 11, wantPhase: corev1.PodPending},
		{name: "a node's occurrence reports (probe failures, hooks) change nothing of the pod", evs: []objectEvent{
			{verb: object.Created, obj: pod},
			{verb: object.Bound, obj: pod, payload: `{"node":"n1"}`},
			{verb: object.Assigned, ref: facet("n1"), payload: `{}`},
			{verb: object.Status, ref: facet("n1"), status: corev1.PodStatus{Phase: corev1.PodRunning}},
			{verb: object.Unhealthy, ref: facet("n1"), payload: `{"container":"c","count":3,"firstTime":"2026-01-01T00:00:00Z"}`},
			{verb: object.Killing, ref: facet("n1"), payload: `{"container":"c","count":1,"firstTime":"2026-01-01T00:00:00Z"}`},
			{verb: object.FailedPostStartHook, ref: facet("n1"), payload: `{"container":"c","count":1,"firstTime":"2026-01-01T00:00:00Z"}`},
			{verb: object.FailedPreStopHook, ref: facet("n1"), payload: `{"container":"c","count":1,"firstTime":"2026-01-01T00:00:00Z"}`},
		}, wantNode: "n1", wantRV: "13", wantVersion: 11, wantPhase: corev1.PodRunning},
		{name: "a node cannot bind through its facet", evs: []objectEvent{
			{verb: object.Created, obj: pod},
			{verb: object.Bound, ref: facet("n1"), payload: `{"node":"n1"}`},
		}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := foldAll(t, "Pod", tc.evs)
			if tc.wantErr {
				if !errors.Is(err, object.ErrFold) {
					t.Fatalf("err = %v, want ErrFold", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := st.Object.(*corev1.Pod)
			if p.Spec.NodeName != tc.wantNode {
				t.Errorf("nodeName = %q, want %q", p.Spec.NodeName, tc.wantNode)
			}
			if tc.wantSched != "" {
				var got *corev1.PodCondition
				for i := range p.Status.Conditions {
					if p.Status.Conditions[i].Type == corev1.PodScheduled {
						got = &p.Status.Conditions[i]
					}
				}
				if got == nil || got.Status != tc.wantSched || got.Message != tc.wantMessage {
					t.Errorf("PodScheduled = %+v, want %s %q", got, tc.wantSched, tc.wantMessage)
				}
			}
			if p.ResourceVersion != tc.wantRV || st.Version != tc.wantVersion {
				t.Errorf("resourceVersion %s version %d, want %s and %d", p.ResourceVersion, st.Version, tc.wantRV, tc.wantVersion)
			}
			if p.Status.Phase != tc.wantPhase {
				t.Errorf("phase = %q, want %q", p.Status.Phase, tc.wantPhase)
			}
		})
	}
}
