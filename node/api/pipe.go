package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
)

// The framing of one direction of a forwarded connection (see
// PortForwardRequest): Send on one side, a Receiver on the other.

// Window bounds the bytes a sender has published that its receiver has not
// yet written out (core NATS has no flow control of its own): the receiver
// acknowledges, with the total it has written, every AckEvery bytes, and Send
// waits while WindowSize bytes are unacknowledged.
const (
	WindowSize = 4 << 20
	AckEvery   = 256 << 10
)

// Window is the sender's side of the flow control.
type Window struct {
	mu     sync.Mutex
	cond   *sync.Cond
	acked  int64
	closed bool
}

// NewWindow returns a window with nothing acknowledged.
func NewWindow() *Window {
	w := &Window{}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// Ack records that the receiver has written total bytes (a message on the
// ack subject, its payload the decimal total).
func (w *Window) Ack(m *nats.Msg) {
	n, err := strconv.ParseInt(string(m.Data), 10, 64)
	if err != nil {
		return
	}
	w.mu.Lock()
	if n > w.acked {
		w.acked = n
		w.cond.Broadcast()
	}
	w.mu.Unlock()
}

// Close releases a sender waiting for acknowledgements, for good.
func (w *Window) Close() {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
}

// wait blocks while sent bytes exceed the acknowledged by WindowSize; false
// when the window is closed.
func (w *Window) wait(sent int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.closed && sent-w.acked > WindowSize {
		w.cond.Wait()
	}
	return !w.closed
}

// Send publishes what r yields to subject, in chunks of at most ChunkSize
// numbered by HeaderSeq, waiting on win (nil: no flow control) while too much
// is unacknowledged, then the end message (HeaderEOF, and HeaderError when
// reading failed otherwise than at the end). It returns when r ends, the
// window closes or a publish fails.
func Send(nc *nats.Conn, subject string, r io.Reader, win *Window) error {
	buf := make([]byte, ChunkSize)
	var seq, sent int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			seq++
			sent += int64(n)
			m := nats.NewMsg(subject)
			m.Data = append([]byte(nil), buf[:n]...)
			m.Header.Set(HeaderSeq, strconv.FormatInt(seq, 10))
			if err := nc.PublishMsg(m); err != nil {
				return err
			}
			if win != nil && !win.wait(sent) {
				return nil
			}
		}
		if rerr != nil {
			m := nats.NewMsg(subject)
			m.Header.Set(HeaderEOF, "1")
			if !errors.Is(rerr, io.EOF) && !errors.Is(rerr, net.ErrClosed) {
				m.Header.Set(HeaderError, rerr.Error())
			}
			err := nc.PublishMsg(m)
			if err == nil {
				err = nc.Flush()
			}
			return err
		}
	}
}

// Receiver checks the order of one direction's messages and acknowledges
// what was written out.
type Receiver struct {
	seq            int64
	written, acked int64
}

// Accept returns the bytes a message carries, or end when it ends the
// direction (with the sender's error, if it sent one). A message out of order
// is an error: one was lost.
func (r *Receiver) Accept(m *nats.Msg) (data []byte, end bool, err error) {
	if m.Header.Get(HeaderEOF) != "" {
		if e := m.Header.Get(HeaderError); e != "" {
			return nil, true, errors.New(e)
		}
		return nil, true, nil
	}
	r.seq++
	if s := m.Header.Get(HeaderSeq); s != strconv.FormatInt(r.seq, 10) {
		return nil, true, fmt.Errorf("the stream lost messages (got %q, want %d)", s, r.seq)
	}
	return m.Data, false, nil
}

// Written records n bytes written out and acknowledges on subject every
// AckEvery bytes.
func (r *Receiver) Written(nc *nats.Conn, subject string, n int) {
	r.written += int64(n)
	if r.written-r.acked >= AckEvery {
		r.acked = r.written
		_ = nc.Publish(subject, []byte(strconv.FormatInt(r.written, 10)))
	}
}

// CloseWrite half-closes a TCP connection (other connections are closed).
func CloseWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
