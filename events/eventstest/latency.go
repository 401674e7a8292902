package eventstest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Latency is a loopback TCP proxy in front of a server that delays every byte the
// server sends by a duration the test sets at any moment: a loaded machine's slow
// replies, on demand.
type Latency struct {
	ln    net.Listener
	to    string
	mu    sync.Mutex
	delay time.Duration
	conns []net.Conn
	wg    sync.WaitGroup
}

// ConnectSlow opens a client connection to the server through a Latency proxy
// (no delay until Set), both closed when the test ends.
func (s *Server) ConnectSlow(tb testing.TB) (*nats.Conn, *Latency) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	l := &Latency{ln: ln, to: s.NS.Addr().String()}
	l.wg.Add(1)
	go l.accept()
	tb.Cleanup(l.close)
	nc, err := nats.Connect("nats://"+ln.Addr().String(), nats.MaxReconnects(0))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc, l
}

// Set delays what the server sends from now on by d.
func (l *Latency) Set(d time.Duration) {
	l.mu.Lock()
	l.delay = d
	l.mu.Unlock()
}

func (l *Latency) get() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.delay
}

func (l *Latency) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", l.to)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.conns = append(l.conns, c, s)
		l.mu.Unlock()
		l.wg.Add(2)
		go func() {
			defer l.wg.Done()
			_, _ = io.Copy(s, c)
			s.Close()
		}()
		go func() {
			defer l.wg.Done()
			l.delayed(c, s)
			c.Close()
		}()
	}
}

// delayed copies from src to dst, each chunk written the current delay after it
// was read (chunks keep their order; the delay is a latency, not a throughput).
func (l *Latency) delayed(dst, src net.Conn) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(l.get()), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.data); err != nil {
			src.Close()
			for range q { // let the reader end
			}
			return
		}
	}
}

func (l *Latency) close() {
	l.ln.Close()
	l.mu.Lock()
	for _, c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}
