package events

import "fmt"

// MaxEventBytes is the largest event the log stores (its JSON envelope; the
// stream's max_msg_size). The largest legitimate event is an object's creation or
// update: its payload holds the object and the configuration it was applied from,
// each at most object.MaxObjectBytes (1.5 MiB), so about twice the object, plus an
// envelope of well under a KiB and a sealed Secret's per-key nonces and tags. 4 MiB
// leaves a mebibyte above that.
const MaxEventBytes = 4 << 20

// MaxPayload is the NATS server's max_payload: the largest message any client may
// publish on any subject. It is an event plus room for what travels beside one (the
// publish headers, a reply that carries a stored object with its status), so that an
// oversized event is refused by the stream with its own message, and anything larger
// by the server before it is buffered.
const MaxPayload = MaxEventBytes + 1<<20

// TooLargeError reports an event refused because it is larger than MaxEventBytes.
type TooLargeError struct {
	Type   string
	Object Ref
	Size   int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("append %s %s: the event is %d bytes; the log stores events of at most %d bytes (%d MiB: an object of at most 1.5 MiB with its applied configuration)",
		e.Type, e.Object, e.Size, MaxEventBytes, MaxEventBytes>>20)
}
