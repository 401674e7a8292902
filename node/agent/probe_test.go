package agent

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/wake-run/wake/node/probe"
	corev1 "k8s.io/api/core/v1"
)

// A probe goroutine hands the worker its results and ends when its container's
// probes are stopped, or when the worker ends, even with a result in hand.
func TestProbeLoopEnds(t *testing.T) {
	ran := make(chan struct{}, 16)
	target := probe.Target{Container: "c", Exec: func(ctx context.Context, cmd []string, out io.Writer) (int, error) {
		ran <- struct{}{}
		return 1, nil
	}}
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"false"}}}, PeriodSeconds: 1}
	for _, end := range []string{"probes stopped", "worker ended"} {
		t.Run(end, func(t *testing.T) {
			before := runtime.NumGoroutine()
			w := newWorker(&Agent{}, "ns", "pod", "uid")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				w.probeLoop(ctx, probe.Liveness, p, target, "id-1", time.Now())
			}()
			select {
			case n := <-w.probeNotes:
				if n.name != "c" || n.id != "id-1" || n.kind != probe.Liveness || n.res.OK || n.res.Message != `command "false" exited with 1` {
					t.Errorf("note %+v", n)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no result from a probe with no initial delay")
			}
			<-ran // the next run, whose result nobody takes
			<-ran
			if end == "probes stopped" {
				cancel()
			} else {
				close(w.done)
			}
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the probe goroutine did not end")
			}
			time.Sleep(10 * time.Millisecond)
			if after := runtime.NumGoroutine(); after > before {
				t.Errorf("%d goroutines after, %d before", after, before)
			}
		})
	}
}

// A preStop hook runs within the grace period; what it takes is taken from the
// grace the stop signal then gets, never below 2 s.
func TestPreStopTakesFromTheGrace(t *testing.T) {
	sleeper := func(d time.Duration) probe.Target {
		return probe.Target{Exec: func(ctx context.Context, cmd []string, out io.Writer) (int, error) {
			select {
			case <-time.After(d):
				return 0, nil
			case <-ctx.Done():
				return -1, ctx.Err()
			}
		}}
	}
	hook := &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep"}}}
	tests := []struct {
		name         string
		hook, grace  time.Duration
		ok           bool
		leftAtLeast  time.Duration
		leftAtMost   time.Duration
		tookAtMostOf time.Duration
	}{
		{"a quick hook leaves the rest", 100 * time.Millisecond, 5 * time.Second, true, 4700 * time.Millisecond, 4900 * time.Millisecond, time.Second},
		{"a hook outlasting the grace is cut, 2 s still follow", 10 * time.Second, 300 * time.Millisecond, false, minGraceAfterPreStop, minGraceAfterPreStop, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res, left := runPreStop(context.Background(), hook, sleeper(tt.hook), tt.grace)
			if res.OK != tt.ok || left < tt.leftAtLeast || left > tt.leftAtMost || time.Since(start) > tt.tookAtMostOf {
				t.Errorf("result %+v, grace left %s after %s; want ok=%v and %s-%s left", res, left, time.Since(start), tt.ok, tt.leftAtLeast, tt.leftAtMost)
			}
		})
	}
}
