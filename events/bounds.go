package events

import (
	"context"
	"fmt"
	"time"
)

// Bounds are the oldest and newest events the stream of record holds: the range
// a reader can start from. All are zero when the log is empty.
type Bounds struct {
	FirstSeq  uint64
	FirstTime time.Time
	LastSeq   uint64
	LastTime  time.Time
}

// Bounds returns the log's current first and last sequences and their times.
func (l *Log) Bounds(ctx context.Context) (Bounds, error) {
	s, err := l.js.Stream(ctx, l.stream)
	if err != nil {
		return Bounds{}, fmt.Errorf("stream %s: %w", l.stream, err)
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 {
		return Bounds{}, nil
	}
	return Bounds{FirstSeq: st.FirstSeq, FirstTime: st.FirstTime, LastSeq: st.LastSeq, LastTime: st.LastTime}, nil
}
