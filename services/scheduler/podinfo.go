package scheduler

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ErrInvalidPod is wrapped by NewPodInfo's error when the pod's scheduling
// constraints cannot be evaluated (for example a Gt requirement whose value is
// not an integer). Such a pod can never be placed; the error names the field.
var ErrInvalidPod = errors.New("invalid pod")

// PodInfo is a pod with everything the plugins need computed once: its requests,
// its compiled node affinity, its host ports and its owner. Build it once per
// pod and reuse it for Schedule and AddPod; it is immutable and safe to share.
type PodInfo struct {
	Pod *corev1.Pod
	// Requests is what the pod asks a node for, computed as Kubernetes does:
	// the larger of its containers' sum (with sidecars) and its largest init
	// container, limits standing in for missing requests, pod-level requests
	// replacing the containers' cpu and memory, plus the pod's overhead.
	Requests Resources
	// Owner is the uid of the pod's controller (its ReplicaSet), "" if none.
	Owner types.UID
	// Unenforced lists, as field paths, the scheduling constraints the pod sets
	// that this scheduler does not enforce yet, so that the service can warn
	// about them instead of dropping them silently.
	Unenforced []string

	nonZeroMilliCPU int64
	nonZeroMemory   int64
	hostPorts       []hostPort
	missingClaim    *Status        // VolumeClaims' verdict, the same on every node
	volumes         *volumeVerdict // VolumeClaims' verdict resolved against the claims (WithVolumes); nil: missingClaim
	insufficient    []*Status      // "Insufficient <name>" per Requests.Scalar
	required        *requiredAffinity
	preferred       []preferredTerm
	// Tolerations of the taints NodeReady checks, computed once.
	toleratesUnschedulable bool
	toleratesNotReady      bool
	toleratesUnreachable   bool
	// tieSeed is the hash of the pod's uid, continued with a node's name to break ties.
	tieSeed uint64
}

// NewPodInfo compiles pod for scheduling. It fails, wrapping ErrInvalidPod, when
// the pod's nodeSelector or node affinity is malformed.
func NewPodInfo(pod *corev1.Pod) (*PodInfo, error) {
	required, preferred, err := compileNodeAffinity(pod)
	if err != nil {
		return nil, fmt.Errorf("%w %s/%s: %w", ErrInvalidPod, pod.Namespace, pod.Name, err)
	}
	nonZero := resourcesFromList(podRequests(pod, true))
	p := &PodInfo{
		Pod:             pod,
		Requests:        resourcesFromList(podRequests(pod, false)),
		nonZeroMilliCPU: nonZero.MilliCPU,
		nonZeroMemory:   nonZero.Memory,
		hostPorts:       podHostPorts(pod),
		missingClaim:    missingClaimStatus(pod),
		required:        required,
		preferred:       preferred,
		tieSeed:         hashString(hashString(fnvOffset, string(pod.UID)), "\x00"),
	}
	p.insufficient = insufficientStatuses(&p.Requests)
	p.Unenforced = unenforcedFields(pod)
	if ref := metav1.GetControllerOf(pod); ref != nil {
		p.Owner = ref.UID
	}
	p.toleratesUnschedulable = toleratesTaint(pod.Spec.Tolerations, &taintUnschedulable)
	p.toleratesNotReady = toleratesTaint(pod.Spec.Tolerations, &taintNotReady)
	p.toleratesUnreachable = toleratesTaint(pod.Spec.Tolerations, &taintUnreachable)
	return p, nil
}

// UID is the pod's uid, the key under which a NodeInfo holds it.
func (p *PodInfo) UID() types.UID { return p.Pod.UID }

func unenforcedFields(pod *corev1.Pod) []string {
	var out []string
	if a := pod.Spec.Affinity; a != nil {
		if a.PodAffinity != nil {
			out = append(out, "spec.affinity.podAffinity")
		}
		if a.PodAntiAffinity != nil {
			out = append(out, "spec.affinity.podAntiAffinity")
		}
	}
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		out = append(out, "spec.topologySpreadConstraints")
	}
	if len(pod.Spec.SchedulingGates) > 0 {
		out = append(out, "spec.schedulingGates")
	}
	if len(pod.Spec.ResourceClaims) > 0 {
		out = append(out, "spec.resourceClaims")
	}
	return out
}
