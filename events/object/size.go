package object

import (
	"encoding/json"
	"fmt"
)

// MaxObjectBytes is the largest object wake stores, measured as its JSON with
// defaults: 1.5 MiB, etcd's default request limit (--max-request-bytes), which is
// why Kubernetes refuses any larger object. An object's event carries the object and
// the configuration it was applied from, so this bound also keeps every event within
// events.MaxEventBytes.
const MaxObjectBytes = 3 << 19

// checkSize refuses an object or applied configuration larger than MaxObjectBytes,
// naming its size and the limit.
func checkSize(obj Object, declared []byte) []string {
	size := len(declared)
	if raw, err := json.Marshal(obj); err == nil && len(raw) > size {
		size = len(raw)
	}
	if size <= MaxObjectBytes {
		return nil
	}
	return []string{fmt.Sprintf("object is too large: %s (%d bytes) as JSON; wake stores objects of at most %s (%d bytes), the limit Kubernetes (etcd) sets",
		mebibytes(size), size, mebibytes(MaxObjectBytes), MaxObjectBytes)}
}

// mebibytes formats n bytes as "1.5 MiB".
func mebibytes(n int) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
