package replicaset

import (
	"crypto/sha256"
	"fmt"
	"k8s.io/apimachinery/pkg/types"
)

// alphabet is Kubernetes' alphabet of generated name suffixes
// (k8s.io/apimachinery/pkg/util/rand): no vowels, no confusable characters.
const alphabet = "bcdfghjklmnpqrstvwxz2456789"

// maxGeneratedNameLength is Kubernetes' bound on a generateName base, so that the
// name with its five characters stays a valid DNS label.
const maxGeneratedNameLength = 63 - 5

// PodName returns the name of the index-th pod created for the ReplicaSet named
// rsName with uid: "<rsName>-<five characters>", as Kubernetes' generateName
// gives, but derived from the uid and index instead of drawn at random, so a
// decision retried after a crash names the same pod and its guarded create
// appends nothing twice.
func PodName(rsName string, uid types.UID, index uint64) string {
	base := rsName + "-"
	if len(base) > maxGeneratedNameLength {
		base = base[:maxGeneratedNameLength]
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d", uid, index))
	suffix := make([]byte, 5)
	for i := range suffix {
		suffix[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return base + string(suffix)
}
