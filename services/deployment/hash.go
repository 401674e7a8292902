package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/dump"
)

// HashLabel is the label (and selector term) that ties a ReplicaSet and its pods
// to one pod template of a Deployment.
const HashLabel = appsv1.DefaultDeploymentUniqueLabelKey // "pod-template-hash"

// RevisionAnnotation numbers the ReplicaSets of a Deployment in rollout order.
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// PodTemplateHash is Kubernetes' hash of a pod template: FNV-32a of the
// template's deep-hash dump, then of collisionCount (little endian, when set),
// written in the alphabet of generated names. Equal templates hash equally on
// every server, so a ReplicaSet's name "<deployment>-<hash>" is deterministic.
func PodTemplateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// equalIgnoreHash reports whether two templates are equal but for HashLabel.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, HashLabel)
	delete(b.Labels, HashLabel)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return equality.Semantic.DeepEqual(a, b)
}

func withLabel(l map[string]string, key, value string) map[string]string {
	out := maps.Clone(l)
	if out == nil {
		out = map[string]string{}
	}
	out[key] = value
	return out
}
