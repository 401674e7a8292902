package probe

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Kind is which of a container's probes a result is for.
type Kind int

// The three probes, in the order they gate each other: a startup probe holds
// back the other two until it succeeds.
const (
	Startup Kind = iota
	Liveness
	Readiness
)

// Kinds lists every Kind.
var Kinds = [...]Kind{Startup, Liveness, Readiness}

// String is the kind as the kubelet's events name it ("Readiness").
func (k Kind) String() string {
	return [...]string{"Startup", "Liveness", "Readiness"}[k]
}

// Of is the container's probe of kind k (nil: none).
func Of(c *corev1.Container, k Kind) *corev1.Probe {
	return [...]*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe}[k]
}

// Timing is a probe's schedule and thresholds with Kubernetes' defaults for
// the fields left unset.
type Timing struct {
	InitialDelay time.Duration // initialDelaySeconds, default 0
	Period       time.Duration // periodSeconds, default 10
	Timeout      time.Duration // timeoutSeconds, default 1
	Success      int32         // successThreshold, default 1
	Failure      int32         // failureThreshold, default 3
	// Grace replaces the pod's terminationGracePeriodSeconds when this probe
	// kills the container (probe-level terminationGracePeriodSeconds); nil
	// keeps the pod's.
	Grace *time.Duration
}

// TimingOf is p's timing with defaults.
func TimingOf(p *corev1.Probe) Timing {
	t := Timing{Period: 10 * time.Second, Timeout: time.Second, Success: 1, Failure: 3}
	if p == nil {
		return t
	}
	if p.InitialDelaySeconds > 0 {
		t.InitialDelay = time.Duration(p.InitialDelaySeconds) * time.Second
	}
	if p.PeriodSeconds > 0 {
		t.Period = time.Duration(p.PeriodSeconds) * time.Second
	}
	if p.TimeoutSeconds > 0 {
		t.Timeout = time.Duration(p.TimeoutSeconds) * time.Second
	}
	if p.SuccessThreshold > 0 {
		t.Success = p.SuccessThreshold
	}
	if p.FailureThreshold > 0 {
		t.Failure = p.FailureThreshold
	}
	if p.TerminationGracePeriodSeconds != nil {
		g := time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
		t.Grace = &g
	}
	return t
}

// State is the probe state of one run of one container: what its probes'
// results so far say about it. It is pure: the caller runs the probes and
// feeds their results to Observe, and acts on what it returns. A new run of
// the container (a restart) starts from a new State.
type State struct {
	series [3]*series
	// killed: a probe decided to restart the container; nothing more is
	// observed of this run.
	killed bool
}

// series is one probe's results: the result that counts (settled) changes
// only after threshold results in a row that say otherwise.
type series struct {
	timing  Timing
	settled bool
	last    bool  // the newest result
	run     int32 // how many results in a row equal last (0: none yet)
}

// NewState is the state of a container that has just started: not started
// while it has a startup probe, alive, and not ready while it has a
// readiness probe.
func NewState(c *corev1.Container) *State {
	s := &State{}
	for _, k := range Kinds {
		if p := Of(c, k); p != nil {
			s.series[k] = &series{timing: TimingOf(p), settled: k == Liveness}
		}
	}
	return s
}

// Has says whether the container has a probe of kind k.
func (s *State) Has(k Kind) bool { return s.series[k] != nil }

// Started says whether the container's startup probe has succeeded (always,
// without one).
func (s *State) Started() bool {
	return s.series[Startup] == nil || s.series[Startup].settled
}

// Ready says whether the container serves: started, and its readiness probe
// (if any) has succeeded successThreshold times in a row since it last
// failed failureThreshold times in a row.
func (s *State) Ready() bool {
	return !s.killed && s.Started() && (s.series[Readiness] == nil || s.series[Readiness].settled)
}

// Active says whether the probe of kind k runs now: the startup probe until
// it succeeds, liveness and readiness only after it has, none once a probe
// has decided to restart the container.
func (s *State) Active(k Kind) bool {
	if s.killed || s.series[k] == nil {
		return false
	}
	if k == Startup {
		return !s.Started()
	}
	return s.Started()
}

// Observe folds one result of the probe of kind k into the state. It returns
// true when the container must be restarted: its liveness or startup probe
// has failed failureThreshold times in a row. Results of a probe that is not
// Active are ignored (a result in flight when the gate moved).
func (s *State) Observe(k Kind, ok bool) (kill bool) {
	if !s.Active(k) {
		return false
	}
	r := s.series[k]
	if r.run > 0 && r.last == ok {
		r.run++
	} else {
		r.last, r.run = ok, 1
	}
	switch {
	case ok && r.run >= r.timing.Success:
		r.settled = true
	case !ok && r.run >= r.timing.Failure:
		r.settled = false
		if k != Readiness {
			s.killed = true
			return true
		}
	}
	return false
}
