package events

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// DerivedID is the id of an event that a writer decides rather than a user asks
// for: the same decision always gets the same id, so a decision retried after a
// lost acknowledgement or a crash is stored once (the stream's duplicate window,
// and Log.Append's settling of a conflict that is its own earlier append), and
// any other decision gets another id.
//
// A decision is named by who made it (actor), what it reacts to (cause: the id of
// the event that prompted it, "" for a writer that decides from state alone),
// what it appends (typ, about ref: ref.Subject(), its node facet included) and
// the version of ref's subject it was decided from (version; 0: the subject held
// no event). The version is what keeps ids unique on the log: once the event is
// stored its subject is past that version, so no later event can be decided from
// it again. The cause covers what the version does not: a decision also reads
// other objects (a ReplicaSet's pods, a pod's node), and a changed read comes
// with another cause; a writer whose reads come with no cause of their own (the
// scheduler reads every node) names its decision in typ ("pod.bound\x00node-3"),
// or a different decision from the same version would be taken for a retry and
// dropped. The actor keeps two writers' decisions apart.
//
// Ids are 32 lowercase hex digits (128 bits of SHA-256 over the length-prefixed
// inputs), which no fresh id (NewID) and no id of an earlier build's derivation
// can equal. Changing this rule changes the ids of future events only: stored
// events keep theirs, and ids serve only the duplicate window and the query
// projection's id index, where the first event to take an id keeps it.
func DerivedID(actor, cause, typ string, ref Ref, version uint64) string {
	h := sha256.New()
	var buf []byte
	for _, s := range []string{actor, cause, typ, ref.Subject()} {
		buf = binary.AppendUvarint(buf[:0], uint64(len(s)))
		h.Write(buf)
		h.Write([]byte(s))
	}
	h.Write(binary.BigEndian.AppendUint64(buf[:0], version))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
