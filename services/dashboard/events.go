package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/query"
)

// Event is one event of the log as the page shows it (the envelope without its
// payload).
type Event struct {
	Seq   uint64    `json:"seq"`
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"`
	Type  string    `json:"type"`
	Kind  string    `json:"kind"`
	// Resource is the kind's plural ("pods"), empty for kinds wake does not serve.
	Resource  string `json:"resource,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Node      string `json:"node,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Cause     string `json:"cause,omitempty"`
	// Rejected says why the object projection rejected the event: it did not
	// take effect. Empty: it did.
	Rejected string `json:"rejected,omitempty"`
}

// markRejected asks the query service which of evs did not take effect.
func (d *Dashboard) markRejected(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	keys := make([]query.EventKey, len(evs))
	for i, e := range evs {
		keys[i] = query.EventKey{Seq: e.Seq, ID: e.ID}
	}
	why, err := d.c.Query.Rejections(ctx, keys)
	if err != nil {
		return fmt.Errorf("which events were rejected: %w", err)
	}
	for i := range evs {
		evs[i].Rejected = why[i]
	}
	return nil
}

func eventOf(ev *events.Event) Event {
	out := Event{Seq: ev.Seq, ID: ev.ID, Time: ev.Time, Actor: ev.Actor, Type: ev.Type, Kind: ev.Object.Kind,
		Namespace: ev.Object.Namespace, Name: ev.Object.Name, Node: ev.Object.Node, Reason: ev.Reason, Cause: ev.Cause}
	if k, ok := object.ByKind(ev.Object.Kind); ok {
		out.Resource = k.Resource
	}
	return out
}

// inNamespace is the namespace filter of event lists and streams: with a
// namespace, the events of its objects, of the namespace itself, and of
// cluster-scoped objects (nodes), which every view of the page shows.
func inNamespace(ev *events.Event, ns string) bool {
	return ns == "" || ev.Object.Namespace == "" || ev.Object.Namespace == ns
}

// EventList answers /api/events: the newest events up to a sequence.
type EventList struct {
	// Seq is the sequence the list ends at (the log's last when at was 0).
	Seq uint64 `json:"seq"`
	// Events, newest first.
	Events []Event `json:"events"`
}

// maxEvents bounds the window of /api/events.
const maxEvents = 1000

// serveEvents lists the events among the `limit` sequences that end at `at` (the
// newest when 0), newest first, filtered by namespace.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	ns, at, err := viewParams(r)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	limit, err := uintParam(r, "limit", 100, maxEvents)
	if err == nil && limit == 0 {
		err = badParam("limit", "0", "a whole number from 1 to 1000")
	}
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	upTo := at.Seq
	if upTo == 0 {
		if upTo, err = d.c.Log.LastSeq(r.Context()); err != nil {
			d.writeError(w, r, err)
			return
		}
	}
	list := EventList{Seq: upTo, Events: []Event{}}
	if upTo > 0 {
		from := uint64(1)
		if upTo > limit {
			from = upTo - limit + 1
		}
		if list.Events, err = d.readEvents(r.Context(), from, upTo, ns); err != nil {
			d.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, list)
}

// readEvents returns the events from..upTo in namespace ns, newest first.
// Malformed events are left out, as every consumer of the log leaves them.
func (d *Dashboard) readEvents(ctx context.Context, from, upTo uint64, ns string) ([]Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cur, err := d.c.Log.Read(ctx, events.ReadOptions{From: from, Bounded: true})
	if err != nil {
		return nil, err
	}
	defer cur.Close()
	out := []Event{}
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) || (err == nil && rec.Seq > upTo) {
			break
		}
		if err != nil {
			return nil, err
		}
		ev, err := rec.Decode()
		if err != nil || !inNamespace(ev, ns) {
			continue
		}
		out = append(out, eventOf(ev))
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, d.markRejected(ctx, out)
}

// Timeline answers /api/timeline: the range of the slider.
type Timeline struct {
	FirstSeq  uint64    `json:"firstSeq"`
	FirstTime time.Time `json:"firstTime"`
	LastSeq   uint64    `json:"lastSeq"`
	LastTime  time.Time `json:"lastTime"`
}

func (d *Dashboard) serveTimeline(w http.ResponseWriter, r *http.Request) {
	b, err := d.c.Log.Bounds(r.Context())
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	writeJSON(w, Timeline(b))
}
