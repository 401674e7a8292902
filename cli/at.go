package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/wake-run/wake/services/client"
	"github.com/wake-run/wake/services/query"
)

// atHelp is the help text of every --at flag.
const atHelp = "show the state as it was at a moment: a log sequence (1234), an RFC 3339 time (2026-11-23T10:00:00Z) or a duration ago (90s, 2h)"

// parseAt reads a moment of the log: a sequence, a time, or how long ago.
func parseAt(flag, s string, now time.Time) (query.At, error) {
	if s == "" {
		return query.At{}, nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		if n == 0 {
			return query.At{}, fmt.Errorf("--%s 0: sequences start at 1", flag)
		}
		return query.At{Seq: n}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return query.At{Time: t}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return query.At{Time: now.Add(-d)}, nil
	}
	return query.At{}, fmt.Errorf("--%s %q: give a log sequence (1234), an RFC 3339 time (2026-11-23T10:00:00Z) or a duration ago (90s, 2h)", flag, s)
}

// momentOf returns the time of the event at seq, the reference for ages in a view
// of the past (the zero time when there is none).
func momentOf(ctx context.Context, c *client.Client, at query.At, seq uint64) time.Time {
	if !at.Time.IsZero() {
		return at.Time
	}
	if seq == 0 {
		return time.Time{}
	}
	rec, err := c.Log.Get(ctx, seq)
	if err != nil {
		return time.Time{}
	}
	return rec.Time
}

// atSuffix is " (2026-11-23T10:00:00Z)", or nothing for the zero time.
func atSuffix(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " (" + t.UTC().Format(time.RFC3339) + ")"
}
