package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// VolumeClaims rejects every node for a pod that mounts a PersistentVolumeClaim
// that does not exist, as Kubernetes' VolumeBinding plugin does: the pod stays
// Pending with the claim's name instead of running without the volume it asked
// for. wake serves no PersistentVolumeClaims yet, so no claim exists: a
// persistentVolumeClaim volume, or an ephemeral volume (whose claim is named
// <pod>-<volume>), holds its pod Pending until claims are supported.
type VolumeClaims struct{}

// Name implements FilterPlugin.
func (VolumeClaims) Name() string { return "VolumeClaims" }

// Filter implements FilterPlugin.
func (VolumeClaims) Filter(pod *PodInfo, _ *NodeInfo) *Status { return pod.missingClaim }

// missingClaimStatus is the rejection of the pod's first volume whose claim does
// not exist, in Kubernetes' words (`persistentvolumeclaim "data" not found`), or
// nil when it mounts no claim.
func missingClaimStatus(pod *corev1.Pod) *Status {
	for _, v := range pod.Spec.Volumes {
		claim := ""
		switch {
		case v.PersistentVolumeClaim != nil:
			claim = v.PersistentVolumeClaim.ClaimName
		case v.Ephemeral != nil:
			claim = pod.Name + "-" + v.Name
		default:
			continue
		}
		return newStatus("VolumeClaims", fmt.Sprintf("persistentvolumeclaim %q not found", claim))
	}
	return nil
}
