package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
)

// Subjects of projection administration.
const (
	// SubjectProjectionStatus: every server replies with the status of its projections.
	SubjectProjectionStatus = "wake.projections.status"
	// SubjectProjectionReplay: {"name": ...}; the server running that projection
	// rebuilds it from the log and replies when it has caught up.
	SubjectProjectionReplay = "wake.projections.replay"
	// SubjectProjectionSnapshot: {"name": ...}; the server running that
	// projection writes a snapshot of it and replies with its SnapshotInfo.
	SubjectProjectionSnapshot = "wake.projections.snapshot"
)

// ReplayRequest asks for a rebuild; FromLog ignores snapshots.
type ReplayRequest struct {
	Name    string `json:"name"`
	FromLog bool   `json:"fromLog,omitempty"`
}

// SnapshotResult answers a snapshot request.
type SnapshotResult struct {
	projections.SnapshotInfo
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
}

// ReplayResult answers a replay request.
type ReplayResult struct {
	Name     string        `json:"name"`
	Events   uint64        `json:"events"`
	Duration time.Duration `json:"duration"`
	// Snapshot is the sequence of the snapshot the rebuild started from (0: the
	// start of the log); Folded counts the events folded after it.
	Snapshot uint64 `json:"snapshot,omitempty"`
	Folded   uint64 `json:"folded"`
	Error    string `json:"error,omitempty"`
}

type admin struct{ subs []*nats.Subscription }

func startAdmin(nc *nats.Conn, log *events.Log, runners []*projections.Runner) (*admin, error) {
	a := &admin{}
	sub, err := nc.Subscribe(SubjectProjectionStatus, func(m *nats.Msg) {
		var out []projections.Status
		for _, r := range runners {
			out = append(out, r.Status())
		}
		data, _ := json.Marshal(out)
		_ = m.Respond(data)
	})
	if err != nil {
		a.stop()
		return nil, err
	}
	a.subs = append(a.subs, sub)
	sub, err = nc.Subscribe(SubjectProjectionReplay, func(m *nats.Msg) {
		var req ReplayRequest
		_ = json.Unmarshal(m.Data, &req)
		for _, r := range runners {
			if r.Name() == req.Name {
				go func() {
					res := replay(log, r, req.FromLog)
					data, _ := json.Marshal(res)
					_ = m.Respond(data)
				}()
				return
			}
		}
		data, _ := json.Marshal(ReplayResult{Name: req.Name, Error: unknownProjection(req.Name, runners)})
		_ = m.Respond(data)
	})
	if err != nil {
		a.stop()
		return nil, err
	}
	a.subs = append(a.subs, sub)
	sub, err = nc.Subscribe(SubjectProjectionSnapshot, func(m *nats.Msg) {
		var req ReplayRequest
		_ = json.Unmarshal(m.Data, &req)
		for _, r := range runners {
			if r.Name() == req.Name {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
					defer cancel()
					start := time.Now()
					info, err := r.Snapshot(ctx)
					res := SnapshotResult{SnapshotInfo: info, Duration: time.Since(start)}
					if err != nil {
						res.Error = err.Error()
					}
					data, _ := json.Marshal(res)
					_ = m.Respond(data)
				}()
				return
			}
		}
		data, _ := json.Marshal(SnapshotResult{Error: unknownProjection(req.Name, runners)})
		_ = m.Respond(data)
	})
	if err != nil {
		a.stop()
		return nil, err
	}
	a.subs = append(a.subs, sub)
	// Answered only once the server has read the SUBs above.
	if err := nc.Flush(); err != nil {
		a.stop()
		return nil, fmt.Errorf("projection administration: subscriptions not confirmed by the server: %w", err)
	}
	return a, nil
}

func unknownProjection(name string, runners []*projections.Runner) string {
	names := make([]string, len(runners))
	for i, r := range runners {
		names[i] = r.Name()
	}
	return fmt.Sprintf("no projection named %q (projections: %s)", name, strings.Join(names, ", "))
}

func replay(log *events.Log, r *projections.Runner, fromLog bool) ReplayResult {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	res := ReplayResult{Name: r.Name()}
	start := time.Now()
	last, err := log.LastSeq(ctx)
	if err == nil && fromLog {
		err = r.RebuildFromLog(ctx)
	} else if err == nil {
		err = r.Rebuild(ctx)
	}
	if err == nil {
		err = r.WaitFor(ctx, last)
	}
	res.Duration = time.Since(start)
	res.Events = last
	st := r.Status()
	res.Snapshot, res.Folded = st.RestoredFrom, st.Folded
	if err != nil {
		res.Error = fmt.Sprintf("replay %s: %v", r.Name(), err)
	}
	return res
}

func (a *admin) stop() {
	for _, s := range a.subs {
		_ = s.Unsubscribe()
	}
}
