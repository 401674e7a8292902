package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/nats-io/nats.go"
)

// The framing of one direction of a forwarded connection (see
// PortForwardRequest): Send on one side, a Receiver on the other.

// Send publishes what r yields to subject, in chunks of at most ChunkSize
// numbered by HeaderSeq, then the end message (HeaderEOF, and HeaderError when
// reading failed otherwise than at the end). It returns when r ends or a
// publish fails.
func Send(nc *nats.Conn, subject string, r io.Reader) error {
	buf := make([]byte, ChunkSize)
	var seq int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			seq++
			m := nats.NewMsg(subject)
			m.Data = append([]byte(nil), buf[:n]...)
			m.Header.Set(HeaderSeq, strconv.FormatInt(seq, 10))
			if err := nc.PublishMsg(m); err != nil {
				return err
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

// Receiver checks the order of one direction's messages.
type Receiver struct{ seq int64 }

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

// CloseWrite half-closes a TCP connection (other connections are closed).
func CloseWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}
