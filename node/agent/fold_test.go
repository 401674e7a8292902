package agent

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func inboxEvent(verb string, seq uint64, payload any) *events.Event {
	raw, _ := json.Marshal(payload)
	return &events.Event{ID: "e", Type: "pod." + verb, Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second),
		Object: events.Ref{Kind: "Pod", Namespace: "shop", Name: "web", Node: "n1"}, Actor: "test",
		Schema: events.SchemaVersion, Payload: raw}
}

func assignedPod(uid string, seq uint64) *events.Event {
	grace := int64(30)
	raw, _ := json.Marshal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: types.UID(uid)},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace}})
	return inboxEvent(object.Assigned, seq, &object.Assignment{Pod: raw, Version: seq})
}

// TestFold folds a node's inbox and checks the pod the node is to run after it:
// a revocation makes the pod it names one being deleted (so its worker stops
// it), and a stopped report removes only the pod it names.
func TestFold(t *testing.T) {
	two := int64(2)
	type want struct {
		uid      string // "": no pod assigned
		deleting bool
		grace    *int64
	}
	cases := []struct {
		name string
		evs  []*events.Event
		want want
	}{
		{"assigned", []*events.Event{assignedPod("u1", 1)}, want{uid: "u1"}},
		{"revoked: stopped as a pod being deleted, within the revocation's grace",
			[]*events.Event{assignedPod("u1", 1), inboxEvent(object.Revoked, 2, &object.Deletion{UID: "u1", GracePeriodSeconds: &two})},
			want{uid: "u1", deleting: true, grace: &two}},
		{"a revocation of an earlier pod of the name leaves the later one",
			[]*events.Event{assignedPod("u2", 1), inboxEvent(object.Revoked, 2, &object.Deletion{UID: "u1"})},
			want{uid: "u2"}},
		{"a revocation of a pod never assigned assigns nothing",
			[]*events.Event{inboxEvent(object.Revoked, 1, &object.Deletion{UID: "u1"})}, want{}},
		{"stopped removes the pod it names",
			[]*events.Event{assignedPod("u1", 1), inboxEvent(object.Stopped, 2, &object.Deletion{UID: "u1"})}, want{}},
		{"stopped without a uid removes the pod",
			[]*events.Event{assignedPod("u1", 1), inboxEvent(object.Stopped, 2, nil)}, want{}},
		{"the earlier pod's stopped report does not remove the later pod of the name",
			[]*events.Event{assignedPod("u1", 1), assignedPod("u2", 2), inboxEvent(object.Stopped, 3, &object.Deletion{UID: "u1"})},
			want{uid: "u2"}},
		{"a failed-mount report is the node's status",
			[]*events.Event{assignedPod("u1", 1), inboxEvent(object.FailedMount, 2, &object.StatusChange{Status: json.RawMessage(`{"phase":"Pending"}`)})},
			want{uid: "u1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := projections.NewMemState()
			for _, ev := range tc.evs {
				if err := Fold(s, ev); err != nil {
					t.Fatalf("fold %s: %v", ev.Type, err)
				}
			}
			_, pod, err := assignment(s, "shop", "web")
			if err != nil {
				t.Fatal(err)
			}
			var got want
			if pod != nil {
				got = want{uid: string(pod.UID), deleting: pod.DeletionTimestamp != nil, grace: pod.DeletionGracePeriodSeconds}
			}
			if got.uid != tc.want.uid || got.deleting != tc.want.deleting || (got.grace == nil) != (tc.want.grace == nil) ||
				(got.grace != nil && *got.grace != *tc.want.grace) {
				t.Errorf("assigned %+v, want %+v", got, tc.want)
			}
			last := tc.evs[len(tc.evs)-1].Seq
			if v, _, _ := s.Get(podKey("v", "shop", "web")); string(v) != strconv.FormatUint(last, 10) {
				t.Errorf("facet version %q, want the last event's %d", v, last)
			}
		})
	}
}

func TestUnmountable(t *testing.T) {
	pod := func(vols ...corev1.Volume) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"}, Spec: corev1.PodSpec{Volumes: vols}}
	}
	claim := func(name, claim string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
	}
	empty := corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	eph := corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"no volumes", pod(), ""},
		{"emptyDir only", pod(empty), ""},
		{"a claim", pod(empty, claim("data", "data-0")),
			`Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data]: error processing PVC shop/data-0: persistentvolumeclaim "data-0" not found`},
		{"an ephemeral volume's claim is <pod>-<volume>", pod(eph),
			`Unable to attach or mount volumes: unmounted volumes=[scratch], unattached volumes=[scratch]: error processing PVC shop/db-scratch: persistentvolumeclaim "db-scratch" not found`},
		{"several: every volume listed, the first claim named", pod(claim("a", "ca"), eph),
			`Unable to attach or mount volumes: unmounted volumes=[a scratch], unattached volumes=[a scratch]: error processing PVC shop/ca: persistentvolumeclaim "ca" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unmountable(tc.pod); got != tc.want {
				t.Errorf("unmountable = %q\nwant %q", got, tc.want)
			}
		})
	}
}
