package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/query"
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

func TestResolveClaims(t *testing.T) {
	pod := func(vols ...corev1.Volume) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"}, Spec: corev1.PodSpec{Volumes: vols}}
	}
	claim := func(name, claim string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
	}
	empty := corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	eph := corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}
	pvc := func(name, volume string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: volume}, Status: corev1.PersistentVolumeClaimStatus{Phase: phase}}
	}
	pv := func(name, path, node string) *corev1.PersistentVolume {
		v := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}}
		v.Spec.HostPath = &corev1.HostPathVolumeSource{Path: path}
		if node != "" {
			v.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}
		}
		return v
	}
	objects := map[string]object.Object{
		"PersistentVolumeClaim/data-0":  pvc("data-0", "pv-0", corev1.ClaimBound),
		"PersistentVolumeClaim/pending": pvc("pending", "", corev1.ClaimPending),
		"PersistentVolumeClaim/far":     pvc("far", "pv-far", corev1.ClaimBound),
		"PersistentVolumeClaim/lost":    pvc("lost", "pv-gone", corev1.ClaimBound),
		"PersistentVolume/pv-0":         pv("pv-0", "/var/lib/wake/storage/pv-0_shop_data-0", "node-1"),
		"PersistentVolume/pv-far":       pv("pv-far", "/data/far", "node-2"),
	}
	get := func(kind, _, name string) (object.Object, error) {
		if o, ok := objects[kind+"/"+name]; ok {
			return o, nil
		}
		return nil, fmt.Errorf("%w: %s %s", query.ErrNotFound, kind, name)
	}
	const prefix = "Unable to attach or mount volumes: "
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		dirs map[string]string
		want string
	}{
		{"no volumes", pod(), nil, ""},
		{"emptyDir only", pod(empty), nil, ""},
		{"a bound claim: its volume's directory", pod(empty, claim("data", "data-0")), map[string]string{"data": "/var/lib/wake/storage/pv-0_shop_data-0"}, ""},
		{"a missing claim", pod(empty, claim("data", "nope")), nil,
			prefix + `unmounted volumes=[data], unattached volumes=[data]: error processing PVC shop/nope: persistentvolumeclaim "nope" not found`},
		{"an ephemeral volume's claim is <pod>-<volume>", pod(eph), nil,
			prefix + `unmounted volumes=[scratch], unattached volumes=[scratch]: error processing PVC shop/db-scratch: persistentvolumeclaim "db-scratch" not found`},
		{"several: every volume listed, the first failing claim named", pod(claim("a", "data-0"), eph), nil,
			prefix + `unmounted volumes=[a scratch], unattached volumes=[a scratch]: error processing PVC shop/db-scratch: persistentvolumeclaim "db-scratch" not found`},
		{"an unbound claim waits", pod(claim("data", "pending")), nil,
			prefix + `unmounted volumes=[data], unattached volumes=[data]: error processing PVC shop/pending: PVC is not bound`},
		{"a volume on another node", pod(claim("data", "far")), nil,
			prefix + `unmounted volumes=[data], unattached volumes=[data]: error processing PVC shop/far: persistentvolume "pv-far" is on node node-2`},
		{"a bound claim whose volume is gone", pod(claim("data", "lost")), nil,
			prefix + `unmounted volumes=[data], unattached volumes=[data]: error processing PVC shop/lost: persistentvolume "pv-gone" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirs, got := resolveClaims(tc.pod, "node-1", get)
			if got != tc.want {
				t.Errorf("resolveClaims = %q\nwant %q", got, tc.want)
			}
			if fmt.Sprint(dirs) != fmt.Sprint(tc.dirs) {
				t.Errorf("dirs = %v, want %v", dirs, tc.dirs)
			}
		})
	}
}

func TestMountSourceStaysInsideItsVolume(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		sub  string
		want string
		ok   bool
	}{
		{"", dir, true},
		{"pgdata", filepath.Join(dir, "pgdata"), true},
		{"a/b", filepath.Join(dir, "a/b"), true},
		{"../escape", "", false},
	} {
		got, ok := mountSource(dir, corev1.VolumeMount{SubPath: tc.sub})
		if got != tc.want || ok != tc.ok {
			t.Errorf("subPath %q: %q %v, want %q %v", tc.sub, got, ok, tc.want, tc.ok)
		}
		if ok {
			if fi, err := os.Stat(got); err != nil || !fi.IsDir() {
				t.Errorf("subPath %q: %s not created: %v", tc.sub, got, err)
			}
		}
	}
}

// A revoked volume in the inbox is kept for the sweep to remove its directory;
// a malformed one is rejected.
func TestFoldRevokedVolume(t *testing.T) {
	s := projections.NewMemState()
	ev := func(payload string) *events.Event {
		return &events.Event{ID: "e", Type: "persistentvolume.revoked", Seq: 1, Time: t0,
			Object: events.Ref{Kind: "PersistentVolume", Name: "pvc-1", Node: "n1"}, Schema: events.SchemaVersion, Payload: []byte(payload)}
	}
	if err := Fold(s, ev(`{"uid":"u","path":"/var/lib/wake/agent/n1/storage/pvc-1_default_data"}`)); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.Get([]byte("r\x00pvc-1")); !ok || !strings.Contains(string(v), "pvc-1_default_data") {
		t.Errorf("revoked volume not kept: %q %v", v, ok)
	}
	if err := Fold(s, ev(`{"uid":"u"}`)); !errors.Is(err, object.ErrFold) {
		t.Errorf("a revocation without a path folded: %v", err)
	}
}
