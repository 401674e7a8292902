package replicaset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/wake-run/wake/events"
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

// derivedUID returns a UUID (version 8: derived by hashing) unique to seed.
func derivedUID(seed string) types.UID {
	sum := sha256.Sum256([]byte(seed))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// derivedID is the id of the event of type typ about ref that reacts to cause
// and was decided from version expected of ref's subject: the same decision
// always gets the same id.
func derivedID(cause, typ string, ref events.Ref, expected uint64) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%s|%d", cause, typ, ref.Subject(), expected))
	return "rs-" + hex.EncodeToString(h[:12])
}
