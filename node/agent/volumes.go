package agent

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// unmountable returns why the node cannot mount the pod's volumes, in the
// kubelet's words (the message of its FailedMount event), or "" when it can.
// wake serves no PersistentVolumeClaims yet, so a persistentVolumeClaim volume,
// or an ephemeral volume (whose claim is named <pod>-<volume>), names a claim
// that does not exist: the pod is held, never run without the volume it asked
// for. The scheduler holds such pods too; this is for pods that name their node
// and so never meet it. It is pure.
func unmountable(pod *corev1.Pod) string {
	var volumes, claims []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			claims = append(claims, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			claims = append(claims, pod.Name+"-"+v.Name)
		default:
			continue
		}
		volumes = append(volumes, v.Name)
	}
	if len(claims) == 0 {
		return ""
	}
	list := strings.Join(volumes, " ")
	return fmt.Sprintf("Unable to attach or mount volumes: unmounted volumes=[%s], unattached volumes=[%s]: error processing PVC %s/%s: persistentvolumeclaim %q not found",
		list, list, pod.Namespace, claims[0], claims[0])
}
