package agent

import "time"

// A failing probe fails every period; the node reports it as Kubernetes'
// event series do, not once per run: the first occurrence at once, then the
// count so far at most every coalesceWindow while it recurs. A series that
// has not recurred for seriesIdle ends (Kubernetes aggregates events within
// 10 minutes); the next occurrence starts a new one.
const (
	coalesceWindow = 30 * time.Second
	seriesIdle     = 10 * time.Minute
)

// occurrenceKey is what makes occurrences the same: the container, the
// event's verb and its message.
type occurrenceKey struct {
	container, verb, message string
}

// occurrence is one series as reported.
type occurrence struct {
	key             occurrenceKey
	count, reported int32 // how many happened; how many the newest report said
	first, last     time.Time
	reportedAt      time.Time
}

// occurrences coalesces a pod's repeated occurrences into reports. It is pure:
// the caller gives the time and appends what it returns.
type occurrences struct {
	series map[occurrenceKey]*occurrence
}

// happened records one occurrence at now and returns it when it must be
// reported now: the first of its series, or a repeat at least coalesceWindow
// after the series' last report.
func (o *occurrences) happened(key occurrenceKey, now time.Time) (occurrence, bool) {
	if o.series == nil {
		o.series = map[occurrenceKey]*occurrence{}
	}
	s := o.series[key]
	if s == nil || now.Sub(s.last) >= seriesIdle {
		s = &occurrence{key: key, first: now}
		o.series[key] = s
	}
	s.count++
	s.last = now
	if s.reported == 0 || now.Sub(s.reportedAt) >= coalesceWindow {
		s.reported, s.reportedAt = s.count, now
		return *s, true
	}
	return occurrence{}, false
}

// due returns the series whose unreported repeats are due at now (their
// window has passed since the last report), as reported, and forgets series
// that are idle and fully reported.
func (o *occurrences) due(now time.Time) []occurrence {
	var out []occurrence
	for k, s := range o.series {
		switch {
		case s.count > s.reported && now.Sub(s.reportedAt) >= coalesceWindow:
			s.reported, s.reportedAt = s.count, now
			out = append(out, *s)
		case s.count == s.reported && now.Sub(s.last) >= seriesIdle:
			delete(o.series, k)
		}
	}
	return out
}

// next is when due will next report something (zero: nothing pending).
func (o *occurrences) next() time.Time {
	var at time.Time
	for _, s := range o.series {
		if s.count > s.reported {
			if t := s.reportedAt.Add(coalesceWindow); at.IsZero() || t.Before(at) {
				at = t
			}
		}
	}
	return at
}
