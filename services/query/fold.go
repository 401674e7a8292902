// Package query is the query service: it folds every object's current state into
// its own projection and answers get, list and describe over NATS request/reply.
// It appends nothing.
package query

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// Projection is the query service's read model: every object's current state, a
// tombstone with the version of every deleted object, and a per-object index of
// the events that touched it.
//
// Keys: o\x00<kind>\x00<namespace>\x00<name> -> object.Stored
//
//	l\x00<kind>\x00<namespace>\x00<name> -> the object's labels (JSON), for selectors
//	t\x00<kind>\x00<namespace>\x00<name> -> version of the deletion
//	e\x00<kind>\x00<namespace>\x00<name>\x00<seq:8> -> EventSummary
//	c\x00<kind>\x00<namespace>\x00<name> -> how many recent events are indexed (seq:8)
//	w\x00<kind>\x00<namespace>\x00<name> -> seq:8 of the newest change of the object's
//	   own subject other than a status report: where `why` starts
//	i\x00<event id> -> seq:8 of the first event with that id that took effect (the
//	   causes `why` follows; an event whose seq is not here was rejected)
//
// Version 6: event times are the times the log stored the events.
func Projection() projections.Projection {
	return projections.Projection{Name: "query", Version: 6, Fold: Fold, Prepare: object.Prepare}
}

func idKey(id string) []byte { return append([]byte{'i', 0}, id...) }

// EventSummary is what describe shows of an event.
type EventSummary struct {
	Seq         uint64    `json:"seq"`
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Time        time.Time `json:"time"`
	Actor       string    `json:"actor"`
	Reason      string    `json:"reason,omitempty"`
	Cause       string    `json:"cause,omitempty"`
	Correlation string    `json:"correlation,omitempty"`
	// Node is set on events of the object's facet in a node's inbox (what the
	// node was told or reported).
	Node string `json:"node,omitempty"`
	// Count and FirstTime are a node's occurrence report's (see
	// object.Occurrence): how many times it happened since FirstTime.
	Count     int32     `json:"count,omitempty"`
	FirstTime time.Time `json:"firstTime,omitzero"`
}

func objectKey(prefix byte, k *object.Kind, namespace, name string) []byte {
	b := make([]byte, 0, 2+len(k.Token())+len(namespace)+len(name)+3)
	b = append(b, prefix, 0)
	b = append(b, k.Token()...)
	b = append(b, 0)
	b = append(b, namespace...)
	b = append(b, 0)
	b = append(b, name...)
	return b
}

// scopePrefix is the key prefix of every object of k (in namespace, if not empty).
func scopePrefix(prefix byte, k *object.Kind, namespace string) []byte {
	b := []byte{prefix, 0}
	b = append(b, k.Token()...)
	b = append(b, 0)
	if namespace != "" {
		b = append(b, namespace...)
		b = append(b, 0)
	}
	return b
}

func eventPrefix(k *object.Kind, namespace, name string) []byte {
	return append(objectKey('e', k, namespace, name), 0)
}

// Fold applies one event to the query projection and indexes its id. It is pure
// over s. An id keeps the sequence of the first event that took effect with it:
// a later event reusing the id (a replay or a forgery) cannot take it over, so
// the index tells which stored event took effect (see Service.rejections).
func Fold(s projections.State, ev *events.Event) error {
	if err := foldObject(s, ev); err != nil {
		return err
	}
	if _, taken, err := s.Get(idKey(ev.ID)); err != nil || taken {
		return err
	}
	return s.Set(idKey(ev.ID), binary.BigEndian.AppendUint64(nil, ev.Seq))
}

func foldObject(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if !ok {
		return fmt.Errorf("%w: unknown kind %q", object.ErrFold, ev.Object.Kind)
	}
	key := objectKey('o', k, ev.Object.Namespace, ev.Object.Name)
	var prev *object.Stored
	raw, found, err := s.Get(key)
	if err != nil {
		return err
	}
	if found {
		if prev, err = object.DecodeStored(k, raw); err != nil {
			return err
		}
	}
	if prev == nil && ev.Object.Node != "" {
		return nil // a node's report about an object that no longer exists
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	tomb := objectKey('t', k, ev.Object.Namespace, ev.Object.Name)
	lkey := objectKey('l', k, ev.Object.Namespace, ev.Object.Name)
	if next == nil {
		if err := s.Delete(key); err != nil {
			return err
		}
		if err := s.Delete(lkey); err != nil {
			return err
		}
		if err := s.DeletePrefix(eventPrefix(k, ev.Object.Namespace, ev.Object.Name)); err != nil {
			return err
		}
		for _, p := range []byte{'c', 'w'} {
			if err := s.Delete(objectKey(p, k, ev.Object.Namespace, ev.Object.Name)); err != nil {
				return err
			}
		}
		return s.Set(tomb, []byte(strconv.FormatUint(ev.Seq, 10)))
	}
	data, err := next.Encode()
	if err != nil {
		return err
	}
	if err := s.Set(key, data); err != nil {
		return err
	}
	lbl, err := json.Marshal(next.Object.GetLabels())
	if err != nil {
		return err
	}
	if err := s.Set(lkey, lbl); err != nil {
		return err
	}
	if prev == nil {
		if err := s.Delete(tomb); err != nil {
			return err
		}
	}
	if ev.Object.Node == "" && !strings.HasSuffix(ev.Type, "."+object.Status) {
		wkey := objectKey('w', k, ev.Object.Namespace, ev.Object.Name)
		if err := s.Set(wkey, binary.BigEndian.AppendUint64(nil, ev.Seq)); err != nil {
			return err
		}
	}
	return indexRecent(s, k, ev)
}

// RecentEvents is how many of an object's newest events the projection keeps for
// describe; older ones stay in the log (`wake events --for`).
const RecentEvents = 32

// indexRecent adds ev to its object's recent events, dropping the oldest beyond
// RecentEvents.
func indexRecent(s projections.State, k *object.Kind, ev *events.Event) error {
	es := EventSummary{Seq: ev.Seq, ID: ev.ID, Type: ev.Type, Time: ev.Time, Actor: ev.Actor,
		Reason: ev.Reason, Cause: ev.Cause, Correlation: ev.Correlation, Node: ev.Object.Node}
	if ev.Object.Node != "" && object.IsOccurrence(ev.Type[strings.IndexByte(ev.Type, '.')+1:]) {
		var o object.Occurrence
		if json.Unmarshal(ev.Payload, &o) == nil {
			es.Count, es.FirstTime = o.Count, o.FirstTime
		}
	}
	sum, _ := json.Marshal(es)
	prefix := eventPrefix(k, ev.Object.Namespace, ev.Object.Name)
	if err := s.Set(binary.BigEndian.AppendUint64(bytes.Clone(prefix), ev.Seq), sum); err != nil {
		return err
	}
	ckey := objectKey('c', k, ev.Object.Namespace, ev.Object.Name)
	var n uint64
	if v, ok, err := s.Get(ckey); err != nil {
		return err
	} else if ok && len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	if n++; n > RecentEvents {
		var oldest []byte
		if err := s.Scan(prefix, false, func(key, _ []byte) bool {
			oldest = bytes.Clone(key)
			return false
		}); err != nil {
			return err
		}
		if oldest != nil {
			if err := s.Delete(oldest); err != nil {
				return err
			}
			n--
		}
	}
	return s.Set(ckey, binary.BigEndian.AppendUint64(nil, n))
}
