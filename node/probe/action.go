// Package probe runs what Kubernetes' probes and lifecycle hooks declare
// against a running container — an HTTP GET, a TCP connect, a gRPC health
// check, a command inside the container, a sleep — and holds the pure state
// machine that turns probe results into a container's started, ready and
// restart decisions (state.go). The node agent drives both: it owns the
// timers, the container and the events.
package probe

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Action is what one probe or lifecycle hook does. Exactly one field is set
// for an action that does anything (the API's validation holds for stored
// pods); an empty Action fails with a message saying so.
type Action struct {
	Exec      *corev1.ExecAction
	HTTPGet   *corev1.HTTPGetAction
	TCPSocket *corev1.TCPSocketAction
	GRPC      *corev1.GRPCAction
	Sleep     *corev1.SleepAction
}

// FromProbe is the action of a probe (nil: none).
func FromProbe(p *corev1.Probe) Action {
	if p == nil {
		return Action{}
	}
	return Action{Exec: p.Exec, HTTPGet: p.HTTPGet, TCPSocket: p.TCPSocket, GRPC: p.GRPC}
}

// FromHook is the action of a lifecycle hook (nil: none).
func FromHook(h *corev1.LifecycleHandler) Action {
	if h == nil {
		return Action{}
	}
	return Action{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket, Sleep: h.Sleep}
}

// Kind names the action as the kubelet's messages do ("Exec", "HTTP", ...).
func (a Action) Kind() string {
	switch {
	case a.Exec != nil:
		return "Exec"
	case a.HTTPGet != nil:
		return "HTTP"
	case a.TCPSocket != nil:
		return "TCP"
	case a.GRPC != nil:
		return "GRPC"
	case a.Sleep != nil:
		return "Sleep"
	}
	return ""
}

// Target is the container an action addresses.
type Target struct {
	// Container is the container's name, for messages.
	Container string
	// IP is the pod's address: HTTP, TCP and gRPC actions connect to it
	// unless they name a host.
	IP string
	// Ports are the container's, to resolve a port given by name.
	Ports []corev1.ContainerPort
	// Exec runs cmd inside the container, writing its standard output and
	// error to out, and returns its exit code; an error means it could not be
	// run. It must stop the command when ctx ends.
	Exec func(ctx context.Context, cmd []string, out io.Writer) (int, error)
}

// Result is the outcome of one run of an action.
type Result struct {
	OK bool
	// Message says why it failed, in the kubelet's words ("HTTP probe failed
	// with statuscode: 500"); for a command, what it printed.
	Message string
}

func failed(format string, args ...any) Result {
	return Result{Message: fmt.Sprintf(format, args...)}
}

// Run performs the action once against t, giving up after timeout (0: only
// when ctx ends). It never panics on a malformed action: it fails it.
func (p *Prober) Run(ctx context.Context, a Action, t Target, timeout time.Duration) Result {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	switch {
	case a.Exec != nil:
		return p.exec(ctx, a.Exec.Command, t, timeout)
	case a.HTTPGet != nil:
		return p.httpGet(ctx, a.HTTPGet, t)
	case a.TCPSocket != nil:
		return p.tcp(ctx, a.TCPSocket, t)
	case a.GRPC != nil:
		return p.grpc(ctx, a.GRPC, t, timeout)
	case a.Sleep != nil:
		select {
		case <-time.After(time.Duration(a.Sleep.Seconds) * time.Second):
			return Result{OK: true}
		case <-ctx.Done():
			return failed("sleep of %ds ended early: %v", a.Sleep.Seconds, ctx.Err())
		}
	}
	return failed("no action: set one of exec, httpGet, tcpSocket or grpc")
}

// port resolves a port by number or by the name of one of the container's
// ports.
func port(p intstr.IntOrString, t Target) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port %d: must be 1-65535", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range t.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("port %q is not the name of a port of container %s", p.StrVal, t.Container)
}

func host(named string, t Target) string {
	if named != "" {
		return named
	}
	return t.IP
}
