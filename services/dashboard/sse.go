package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/services/client"
)

// sse writes server-sent events and flushes each at once.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: http.NewResponseController(w)}
	s.write("retry: 2000\n\n")
	return s
}

// send writes one event: its type (omitted for "message"), id when not empty,
// and data, one data line per line of data.
func (s *sse) send(typ, id, data string) error {
	var b strings.Builder
	if typ != "message" {
		fmt.Fprintf(&b, "event: %s\n", typ)
	}
	if id != "" {
		fmt.Fprintf(&b, "id: %s\n", id)
	}
	for _, line := range strings.Split(data, "\n") {
		fmt.Fprintf(&b, "data: %s\n", line)
	}
	b.WriteString("\n")
	return s.write(b.String())
}

func (s *sse) sendJSON(typ, id string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.send(typ, id, string(data))
}

// comment keeps an idle stream open.
func (s *sse) comment(text string) error { return s.write(": " + text + "\n\n") }

func (s *sse) write(text string) error {
	if _, err := io.WriteString(s.w, text); err != nil {
		return err
	}
	return s.rc.Flush()
}

// serveStream sends every event appended from now on (or after the sequence in
// the Last-Event-ID header or the `from` parameter, to resume) as a "message"
// whose id is its sequence and whose data is an Event. It first sends a "hello"
// event carrying {"seq": N}: the last sequence before the first it will send.
func (d *Dashboard) serveStream(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceParam(r)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	after, err := uintParam(r, "from", 0, 1<<63-1)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if after, err = strconv.ParseUint(id, 10, 64); err != nil {
			d.writeError(w, r, badParam("Last-Event-ID", id, "a log sequence"))
			return
		}
	} else if after > 0 {
		after-- // from is the first sequence to send
	} else if after, err = d.c.Log.LastSeq(ctx); err != nil {
		d.writeError(w, r, err)
		return
	}
	cur, err := d.c.Log.Read(ctx, events.ReadOptions{From: after + 1})
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	defer cur.Close()
	records := make(chan events.Record)
	readCtx, stopReading := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		defer close(records)
		for {
			rec, err := cur.Next(readCtx)
			if err != nil {
				done <- err
				return
			}
			select {
			case records <- rec:
			case <-readCtx.Done():
				done <- readCtx.Err()
				return
			}
		}
	}()
	defer func() {
		stopReading()
		for range records {
		}
	}()

	s := startSSE(w)
	if s.sendJSON("hello", "", map[string]uint64{"seq": after}) != nil {
		return
	}
	tick := time.NewTicker(d.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if s.comment("keepalive") != nil {
				return
			}
		case rec, ok := <-records:
			if !ok {
				if err := <-done; ctx.Err() == nil {
					_ = s.send("failure", "", "the log stopped: "+err.Error())
				}
				return
			}
			ev, err := rec.Decode()
			if err != nil || !inNamespace(ev, ns) {
				continue
			}
			out := []Event{eventOf(ev)}
			if err := d.markRejected(ctx, out); err != nil {
				_ = s.send("failure", "", err.Error())
				return
			}
			if s.sendJSON("message", strconv.FormatUint(rec.Seq, 10), out[0]) != nil {
				return
			}
		}
	}
}

// serveLogs streams a container's log as "message" events whose data is a
// chunk of text as a JSON string, then an "end" event; a failure (the pod is not scheduled, no
// container of that name, the node does not answer) is a "failure" event
// with the message. With follow=true the stream stays open until the
// container stops or the page goes away.
func (d *Dashboard) serveLogs(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	ns, err := namespaceParam(r)
	if err == nil && ns == "" {
		err = badParam("namespace", "", "the pod's namespace is required")
	}
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	o := client.LogsOptions{Namespace: ns, Pod: r.URL.Query().Get("pod"), Container: r.URL.Query().Get("container"), Tail: -1}
	if o.Pod == "" {
		d.writeError(w, r, badParam("pod", "", "the name of a pod is required"))
		return
	}
	if o.Follow, err = boolParam(r, "follow"); err != nil {
		d.writeError(w, r, err)
		return
	}
	if r.URL.Query().Get("tail") != "" {
		tail, err := uintParam(r, "tail", 0, 1<<31)
		if err != nil {
			d.writeError(w, r, err)
			return
		}
		o.Tail = int64(tail)
	}
	s := startSSE(w)
	err = d.c.Logs(ctx, o, chunkWriter{s})
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		_ = s.send("failure", "", err.Error())
		return
	}
	_ = s.send("end", "", "")
}

// chunkWriter sends each write as one "message" event.
type chunkWriter struct{ s *sse }

func (c chunkWriter) Write(p []byte) (int, error) {
	if err := c.s.sendJSON("message", "", string(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
