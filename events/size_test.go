package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
)

// payloadOf is a payload that makes an event of about n bytes.
func payloadOf(n int) json.RawMessage {
	return json.RawMessage(`"` + string(bytes.Repeat([]byte("x"), n)) + `"`)
}

func TestOversizedEventsAreRefused(t *testing.T) {
	srv := eventstest.Start(t)
	ctx := testContext(t)
	ev, err := events.New("pod.created", podRef("big"), "test", payloadOf(events.MaxEventBytes))
	if err != nil {
		t.Fatal(err)
	}
	before := lastSeq(t, ctx, srv.Log)

	// wake's own clients refuse before publishing, naming the event and the limit.
	_, err = srv.Log.Append(ctx, ev, 0)
	var tooLarge *events.TooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Size <= events.MaxEventBytes {
		t.Fatalf("Append of an oversized event: %v, want a TooLargeError", err)
	}
	if err := srv.Log.Pipeline().Append(ev, 0); !errors.As(err, &tooLarge) {
		t.Fatalf("pipelined Append of an oversized event: %v, want a TooLargeError", err)
	}

	// Any other client is refused by the stream.
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	raw := bytes.Repeat([]byte("x"), events.MaxEventBytes+1)
	_, err = js.Publish(ctx, podRef("raw").Subject(), raw)
	if !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		t.Fatalf("raw publish of %d bytes: %v, want the stream's %q", len(raw), err, jetstream.ErrStreamMessageExceedsMaximum)
	}
	if after := lastSeq(t, ctx, srv.Log); after != before {
		t.Errorf("oversized events appended %d events", after-before)
	}

	// An event at the limit is stored.
	_, err = js.Publish(ctx, podRef("raw").Subject(), raw[:events.MaxEventBytes-512])
	if err != nil {
		t.Fatalf("publish just under the limit: %v", err)
	}
}
