package scheduler

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func volumes(vs ...corev1.Volume) podOpt {
	return func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, vs...) }
}

func claimVolume(name, claim string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

func TestVolumeClaims(t *testing.T) {
	emptyDir := corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	hostPath := corev1.Volume{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}}
	ephemeral := corev1.Volume{Name: "cache", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []string
	}{
		{"no volumes", makePod("p"), nil},
		{"emptyDir and hostPath", makePod("p", volumes(emptyDir, hostPath)), nil},
		{"a claim: not found", makePod("p", volumes(claimVolume("data", "my-claim"))),
			[]string{`persistentvolumeclaim "my-claim" not found`}},
		{"among other volumes, the first claim", makePod("p", volumes(emptyDir, claimVolume("a", "first"), claimVolume("b", "second"))),
			[]string{`persistentvolumeclaim "first" not found`}},
		{"an ephemeral volume's claim is <pod>-<volume>", makePod("web", volumes(ephemeral)),
			[]string{`persistentvolumeclaim "web-cache" not found`}},
	}
	nodes := []*NodeInfo{nodeWith(t, makeNode("n1", "4", "8Gi")), nodeWith(t, makeNode("n2", "4", "8Gi"))}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := mustPodInfo(t, tt.pod)
			for _, n := range nodes {
				got := VolumeClaims{}.Filter(pod, n)
				if !slices.Equal(reasons(got), tt.want) {
					t.Errorf("%s: Filter = %q, want %q", n.Name(), reasons(got), tt.want)
				}
				if got != nil && got.Plugin() != "VolumeClaims" {
					t.Errorf("plugin = %q", got.Plugin())
				}
			}
		})
	}
}

// A pod whose claim is missing fits no node, with the claim named in the
// message its FailedScheduling event and PodScheduled condition carry.
func TestScheduleHoldsAPodWhoseClaimIsMissing(t *testing.T) {
	nodes := []*NodeInfo{nodeWith(t, makeNode("n1", "4", "8Gi")), nodeWith(t, makeNode("n2", "4", "8Gi", readiness(corev1.ConditionFalse)))}
	_, err := New().Schedule(mustPodInfo(t, makePod("p", volumes(claimVolume("data", "my-claim")))), nodes)
	var fit *FitError
	if !errors.As(err, &fit) {
		t.Fatalf("Schedule = %v, want a FitError", err)
	}
	if want := `0/2 nodes are available: 2 persistentvolumeclaim "my-claim" not found.`; fit.Error() != want {
		t.Errorf("message %q, want %q", fit.Error(), want)
	}
	if _, err := New().Schedule(mustPodInfo(t, makePod("q")), nodes); err != nil {
		t.Errorf("a pod without claims: %v", err)
	}
}

// Claims resolved against the claims, volumes and classes the scheduler knows:
// a bound claim's volume pins the pod to its node, an unbound
// WaitForFirstConsumer claim of the local-path provisioner goes anywhere, one
// of another provisioner only where a fitting volume is.
func TestVolumeClaimsResolved(t *testing.T) {
	str := func(s string) *string { return &s }
	wffc, immediate := storagev1.VolumeBindingWaitForFirstConsumer, storagev1.VolumeBindingImmediate
	pinned := func(name, node, class string, claimRef *corev1.ObjectReference) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
			StorageClassName: class, ClaimRef: claimRef, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}}}
	}
	claim := func(name, class, volume string, deleting bool) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: str(class), VolumeName: volume,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		if deleting {
			now := metav1.Now()
			c.DeletionTimestamp = &now
		}
		return c
	}
	st := &Storage{
		Claims: map[string]*corev1.PersistentVolumeClaim{
			"default/bound":    claim("bound", "local-path", "pv-n2", false),
			"default/lost":     claim("lost", "local-path", "pv-gone", false),
			"default/wait":     claim("wait", "local-path", "", false),
			"default/local":    claim("local", "local", "", false),
			"default/nolocal":  claim("nolocal", "none-here", "", false),
			"default/now":      claim("now", "manual", "", false),
			"default/deleting": claim("deleting", "local-path", "", true),
		},
		Volumes: map[string]*corev1.PersistentVolume{
			"pv-n2":    pinned("pv-n2", "n2", "local-path", &corev1.ObjectReference{Namespace: "default", Name: "bound"}),
			"local-n1": pinned("local-n1", "n1", "local", nil),
			"taken-n2": pinned("taken-n2", "n2", "local", &corev1.ObjectReference{Namespace: "default", Name: "other"}),
		},
		Classes: map[string]*storagev1.StorageClass{
			"local-path": {ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, Provisioner: "wake.run/local-path", VolumeBindingMode: &wffc},
			"local":      {ObjectMeta: metav1.ObjectMeta{Name: "local"}, Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &wffc},
			"none-here":  {ObjectMeta: metav1.ObjectMeta{Name: "none-here"}, Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &wffc},
			"manual":     {ObjectMeta: metav1.ObjectMeta{Name: "manual"}, Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &immediate},
		},
	}
	nodes := []*NodeInfo{nodeWith(t, makeNode("n1", "4", "8Gi", labelled(corev1.LabelHostname, "n1"))),
		nodeWith(t, makeNode("n2", "4", "8Gi", labelled(corev1.LabelHostname, "n2")))}
	tests := []struct {
		claim  string
		n1, n2 string // "" fits
	}{
		{claim: "bound", n1: "node(s) had volume node affinity conflict"},
		{claim: "lost", n1: `persistentvolume "pv-gone" not found`, n2: `persistentvolume "pv-gone" not found`},
		{claim: "wait"},
		{claim: "local", n2: "node(s) didn't find available persistent volumes to bind"},
		{claim: "nolocal", n1: "node(s) didn't find available persistent volumes to bind", n2: "node(s) didn't find available persistent volumes to bind"},
		{claim: "now", n1: "pod has unbound immediate PersistentVolumeClaims", n2: "pod has unbound immediate PersistentVolumeClaims"},
		{claim: "deleting", n1: `persistentvolumeclaim "deleting" is being deleted`, n2: `persistentvolumeclaim "deleting" is being deleted`},
		{claim: "missing", n1: `persistentvolumeclaim "missing" not found`, n2: `persistentvolumeclaim "missing" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.claim, func(t *testing.T) {
			pod := mustPodInfo(t, makePod("p", volumes(claimVolume("data", tt.claim)))).WithVolumes(st)
			for i, want := range []string{tt.n1, tt.n2} {
				got := strings.Join(reasons(VolumeClaims{}.Filter(pod, nodes[i])), "; ")
				if got != want {
					t.Errorf("%s: Filter = %q, want %q", nodes[i].Name(), got, want)
				}
			}
		})
	}
}
