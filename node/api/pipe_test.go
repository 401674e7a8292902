package api_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/node/api"
)

// countingReader counts what Send has read (and so published).
type countingReader struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestSendWaitsForASlowReceiver pipes 24 MiB through real NATS to a receiver
// that writes slowly: every byte arrives in order, and the sender is never
// more than the window (plus a chunk) ahead of what the receiver wrote out.
func TestSendWaitsForASlowReceiver(t *testing.T) {
	srv := eventstest.Start(t)
	pub, sub := srv.Connect(t), srv.Connect(t)
	data := make([]byte, 24<<20)
	_, _ = rand.Read(data)
	src := &countingReader{r: bytes.NewReader(data)}
	var got bytes.Buffer
	var written atomic.Int64
	var maxAhead atomic.Int64
	var recv api.Receiver
	done := make(chan error, 1)
	s, err := sub.Subscribe("pipe.data", func(m *nats.Msg) {
		b, end, err := recv.Accept(m)
		if end || err != nil {
			done <- err
			return
		}
		if ahead := src.read.Load() - written.Load(); ahead > maxAhead.Load() {
			maxAhead.Store(ahead)
		}
		time.Sleep(200 * time.Microsecond) // a slow local reader
		got.Write(b)
		written.Add(int64(len(b)))
		recv.Written(sub, "pipe.ack", len(b))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetPendingLimits(-1, -1)
	win := api.NewWindow()
	if _, err := pub.Subscribe("pipe.ack", win.Ack); err != nil {
		t.Fatal(err)
	}
	_ = sub.Flush()
	_ = pub.Flush()
	if err := api.Send(pub, "pipe.data", src, win); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the end never arrived")
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("received %d bytes, not what was sent (%d)", got.Len(), len(data))
	}
	if limit := int64(api.WindowSize + api.AckEvery + 2*api.ChunkSize); maxAhead.Load() > limit {
		t.Fatalf("the sender ran %d bytes ahead of the receiver, more than the window allows (%d)", maxAhead.Load(), limit)
	}
}

// TestClosedWindowReleasesTheSender: a receiver that never acknowledges
// holds the sender until the window closes.
func TestClosedWindowReleasesTheSender(t *testing.T) {
	srv := eventstest.Start(t)
	pub := srv.Connect(t)
	win := api.NewWindow()
	done := make(chan error, 1)
	go func() { done <- api.Send(pub, "pipe.nobody", bytes.NewReader(make([]byte, 3*api.WindowSize)), win) }()
	select {
	case err := <-done:
		t.Fatalf("Send returned (%v) with nothing acknowledged", err)
	case <-time.After(300 * time.Millisecond):
	}
	win.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Send still waits after the window closed")
	}
}
