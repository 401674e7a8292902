package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
)

// onTouched marks the pods a commit of the projection changed and wakes the
// run loop. It never blocks.
func (a *Agent) onTouched(refs []events.Ref, _ uint64) {
	a.mu.Lock()
	for _, r := range refs {
		a.touched[r.Namespace+"/"+r.Name] = true
	}
	a.mu.Unlock()
	select {
	case a.wakeup <- struct{}{}:
	default:
	}
}

// Run runs the assigned pods until ctx ends, or until its projection stops for
// good (the stream of record is gone: the error wraps events.ErrStreamGone); the
// pods keep running after it.
func (a *Agent) Run(ctx context.Context) error {
	defer a.unlock() // last: the pods are left to `wake down` only once this agent is gone
	// The projections close once every goroutine reading them has ended: a
	// read of a closed projection panics.
	defer a.closeProjections()
	var wg sync.WaitGroup
	defer wg.Wait()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := make(chan error, 1)
	runners := []*projections.Runner{a.runner, a.config, a.services}
	if a.dns.runner != nil {
		runners = append(runners, a.dns.runner)
	}
	if a.ingress != nil {
		runners = append(runners, a.ingress)
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.refreshIngress(rctx)
		}()
	}
	wg.Add(3 + len(runners))
	for _, r := range runners {
		go func() {
			defer wg.Done()
			if err := r.Run(rctx); err != nil {
				select {
				case failed <- err:
				default:
				}
			}
		}()
	}
	go func() {
		defer wg.Done()
		a.sweepVolumes(rctx)
	}()
	go func() {
		defer wg.Done()
		a.heartbeat(rctx)
	}()
	go func() {
		defer wg.Done()
		a.runProxy(rctx)
	}()
	defer a.stopServing()
	a.resync()
	orphans := time.NewTimer(10 * time.Second)
	defer orphans.Stop()
	for {
		select {
		case <-ctx.Done():
			a.waitWorkers()
			return nil
		case err := <-failed:
			cancel()
			a.waitWorkers()
			return fmt.Errorf("node %s stopped: %w", a.cfg.NodeName, err)
		case <-a.wakeup:
		case <-orphans.C:
			a.removeOrphans(ctx)
			orphans.Reset(time.Minute)
		}
		a.dispatch(rctx, &wg)
	}
}

// waitWorkers waits for every pod worker to end (their context has ended).
func (a *Agent) waitWorkers() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		<-w.done
	}
}

// resync marks every pod of the projection, for the first pass.
func (a *Agent) resync() {
	var refs []events.Ref
	_ = a.runner.View(func(rd projections.Reader, _ uint64) error {
		return rd.Scan([]byte("p\x00"), false, func(k, _ []byte) bool {
			if parts := strings.SplitN(string(k[2:]), "\x00", 2); len(parts) == 2 {
				refs = append(refs, events.Ref{Namespace: parts[0], Name: parts[1]})
			}
			return true
		})
	})
	a.onTouched(refs, 0)
}

// dispatch hands each touched pod's desired state to its worker.
func (a *Agent) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	a.markConfigUsers()
	a.mu.Lock()
	touched := a.touched
	a.touched = map[string]bool{}
	a.mu.Unlock()
	for key := range touched {
		ns, name, _ := strings.Cut(key, "/")
		pod, err := a.desired(ns, name)
		if err != nil {
			a.logger.Warn("read assignment", "pod", key, "err", err)
			continue
		}
		a.mu.Lock()
		w := a.workers[key]
		a.mu.Unlock()
		if pod == nil {
			continue // released (stopped): its worker has finished
		}
		var after *worker
		if w != nil && !isDone(w) && w.uid != pod.UID {
			// Another pod of the name: the worker stops its own pod (never
			// taking the new one into its sandbox), and a new worker starts the
			// new pod once it has.
			w.retire()
			w, after = nil, w
		}
		if w == nil || isDone(w) {
			w = newWorker(a, ns, name, pod.UID)
			w.after = after
			a.adoptInto(w, pod)
			a.mu.Lock()
			a.workers[key] = w
			a.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx)
			}()
		}
		w.give(pod)
	}
}

func isDone(w *worker) bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func (a *Agent) desired(ns, name string) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := a.runner.View(func(rd projections.Reader, _ uint64) error {
		raw, ok, err := rd.Get(podKey("p", ns, name))
		if err != nil || !ok {
			return err
		}
		var asg object.Assignment
		if err := json.Unmarshal(raw, &asg); err != nil {
			return err
		}
		pod = &corev1.Pod{}
		return json.Unmarshal(asg.Pod, pod)
	})
	return pod, err
}
