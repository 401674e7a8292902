package scheduler

import (
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
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
