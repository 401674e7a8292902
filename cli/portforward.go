package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// PortForwardOptions are the arguments and flags of `wake port-forward`.
type PortForwardOptions struct {
	Namespace string
	Target    string   // pod/NAME, NAME, deploy/NAME, rs/NAME, svc/NAME
	Ports     []string // [LOCAL:]REMOTE
	Addresses []string // default localhost
	// Ready, when set, receives the bound local ports (in the order of Ports)
	// once every listener is open.
	Ready chan<- []int
}

// portSpec is one [LOCAL:]REMOTE argument; local 0 picks a free port, a
// remote that is not a number names a container port.
type portSpec struct {
	local  int
	remote string
}

// parsePorts reads the port arguments as kubectl does: "8080" forwards 8080
// to 8080, "8080:80" 8080 to 80, ":80" a free local port to 80.
func parsePorts(args []string) ([]portSpec, error) {
	var out []portSpec
	for _, a := range args {
		local, remote, split := strings.Cut(a, ":")
		if !split {
			local, remote = a, a
		}
		if remote == "" {
			return nil, fmt.Errorf("remote port must be specified in %q ([LOCAL:]REMOTE)", a)
		}
		p := portSpec{remote: remote}
		if local != "" {
			n, err := strconv.Atoi(local)
			if err != nil || n < 0 || n > 65535 {
				return nil, fmt.Errorf("error parsing local port %q: must be a number between 0 and 65535", local)
			}
			p.local = n
		}
		if n, err := strconv.Atoi(remote); err == nil && (n < 1 || n > 65535) {
			return nil, fmt.Errorf("error parsing remote port %q: must be between 1 and 65535", remote)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("at least 1 PORT is required for port-forward")
	}
	return out, nil
}

// containerPort resolves a remote port of a pod: a number, or the name of a
// port one of its containers declares.
func containerPort(pod *corev1.Pod, remote string) (int32, error) {
	if n, err := strconv.Atoi(remote); err == nil {
		return int32(n), nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == remote {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("Pod '%s' does not have a named port '%s'", pod.Name, remote)
}

// servicePort resolves a remote port of a Service to its target port on pod,
// as kubectl port-forward svc/NAME does.
func servicePort(svc *corev1.Service, pod *corev1.Pod, remote string) (int32, error) {
	for _, sp := range svc.Spec.Ports {
		if sp.Name != remote && strconv.Itoa(int(sp.Port)) != remote {
			continue
		}
		switch {
		case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
			return containerPort(pod, sp.TargetPort.StrVal)
		case sp.TargetPort.IntVal != 0:
			return sp.TargetPort.IntVal, nil
		}
		return sp.Port, nil
	}
	return 0, fmt.Errorf("Service %s does not have a service port %s", svc.Name, remote)
}

// pickPod is the pod kubectl would forward to among a selector's pods: a
// running one, ready first, then the oldest, then by name; nil when none runs.
func pickPod(pods []*corev1.Pod) *corev1.Pod {
	var running []*corev1.Pod
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && p.Spec.NodeName != "" {
			running = append(running, p)
		}
	}
	sort.SliceStable(running, func(i, j int) bool {
		a, b := running[i], running[j]
		if podReady(a) != podReady(b) {
			return podReady(a)
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	if len(running) == 0 {
		return nil
	}
	return running[0]
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// forwardTarget resolves the target to one pod and the remote ports to its
// container ports.
func forwardTarget(ctx context.Context, c *client.Client, ns, target string, specs []portSpec) (*corev1.Pod, []int32, error) {
	kind, name, ok := strings.Cut(target, "/")
	if !ok {
		kind, name = "pod", target
	}
	k, err := object.Lookup(kind)
	if err != nil {
		return nil, nil, err
	}
	if name == "" {
		return nil, nil, fmt.Errorf("%s: a name is required (TYPE/NAME)", target)
	}
	st, err := c.Query.Get(ctx, k, ns, name)
	if err != nil {
		return nil, nil, err
	}
	var pod *corev1.Pod
	var svc *corev1.Service
	choose := func(sel *metav1.LabelSelector) error {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return err
		}
		pk, _ := object.ByKind("Pod")
		objs, _, err := c.Query.List(ctx, pk, ns, s.String())
		if err != nil {
			return err
		}
		var pods []*corev1.Pod
		for _, o := range objs {
			if p, ok := o.(*corev1.Pod); ok {
				pods = append(pods, p)
			}
		}
		if pod = pickPod(pods); pod == nil {
			return fmt.Errorf("no running pod found for %s", k.Qualified(name))
		}
		return nil
	}
	switch o := st.Object.(type) {
	case *corev1.Pod:
		pod = o
		if pod.Status.Phase != corev1.PodRunning {
			return nil, nil, fmt.Errorf("unable to forward port because pod is not running. Current status=%s", pod.Status.Phase)
		}
	case *appsv1.Deployment:
		err = choose(o.Spec.Selector)
	case *appsv1.ReplicaSet:
		err = choose(o.Spec.Selector)
	case *corev1.Service:
		svc = o
		if len(o.Spec.Selector) == 0 {
			return nil, nil, fmt.Errorf("cannot attach to *v1.Service: invalid service '%s': Service is defined without a selector", name)
		}
		err = choose(&metav1.LabelSelector{MatchLabels: o.Spec.Selector})
	default:
		return nil, nil, fmt.Errorf("cannot attach to %s: port-forward takes a pod, deployment, replicaset or service", k.Qualified(name))
	}
	if err != nil {
		return nil, nil, err
	}
	var remotes []int32
	for _, s := range specs {
		var port int32
		var err error
		if svc != nil {
			port, err = servicePort(svc, pod, s.remote)
		} else {
			port, err = containerPort(pod, s.remote)
		}
		if err != nil {
			return nil, nil, err
		}
		remotes = append(remotes, port)
	}
	return pod, remotes, nil
}

// listenAddrs are the host addresses of --address: localhost is both
// loopback addresses, as kubectl listens on them.
func listenAddrs(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if a == "localhost" {
			out = append(out, "127.0.0.1", "::1")
			continue
		}
		out = append(out, a)
	}
	return out
}

// PortForward forwards local ports to a pod, as `wake port-forward`, until ctx
// ends: each accepted connection is carried to the pod's node over NATS and
// dialled there. It returns nil when ctx ends, once the open connections are
// closed.
func PortForward(ctx context.Context, c *client.Client, o PortForwardOptions, out, errOut io.Writer) error {
	specs, err := parsePorts(o.Ports)
	if err != nil {
		return err
	}
	if len(o.Addresses) == 0 {
		o.Addresses = []string{"localhost"}
	}
	pod, remotes, err := forwardTarget(ctx, c, o.Namespace, o.Target, specs)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after the listeners are closed
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	var mu sync.Mutex // out
	bound := make([]int, len(specs))
	for i, s := range specs {
		port := s.local
		opened := 0
		var errs []error
		for _, host := range listenAddrs(o.Addresses) {
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			port = l.Addr().(*net.TCPAddr).Port
			opened++
			listeners = append(listeners, l)
			fmt.Fprintf(out, "Forwarding from %s -> %d\n", net.JoinHostPort(host, strconv.Itoa(port)), remotes[i])
			remote := remotes[i]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					conn, err := l.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					fmt.Fprintf(out, "Handling connection for %d\n", port)
					mu.Unlock()
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := c.ForwardConn(ctx, pod.Spec.NodeName, pod.Namespace, pod.Name, remote, conn); err != nil {
							mu.Lock()
							fmt.Fprintf(errOut, "error: %v\n", err)
							mu.Unlock()
						}
					}()
				}
			}()
		}
		if opened == 0 {
			return fmt.Errorf("unable to listen on any of the requested ports: %w", errors.Join(errs...))
		}
		bound[i] = port
	}
	if o.Ready != nil {
		o.Ready <- bound
	}
	<-ctx.Done()
	return nil
}

func newPortForwardCmd(g *globals) *cobra.Command {
	o := PortForwardOptions{}
	cmd := &cobra.Command{
		Use:   "port-forward TYPE/NAME [LOCAL_PORT:]REMOTE_PORT [...[LOCAL_PORT_N:]REMOTE_PORT_N]",
		Short: "Forward one or more local ports to a pod",
		Example: `  # Listen on ports 5000 and 6000 locally, forwarding to 5000 and 6000 in the pod
  wake port-forward pod/mypod 5000 6000

  # Listen on port 8888 locally, forwarding to 5000 in a pod of the deployment
  wake port-forward deployment/mydeployment 8888:5000

  # Listen on a random local port, forwarding to the service port named https
  wake port-forward svc/myservice :https

  # Listen on port 8888 on all addresses
  wake port-forward --address 0.0.0.0 pod/mypod 8888:5000`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errors.New("TYPE/NAME and list of ports are required for port-forward")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			o.Namespace, o.Target, o.Ports = g.ns(), args[0], args[1:]
			return PortForward(cmd.Context(), c, o, g.out, g.errOut)
		},
	}
	cmd.Flags().StringSliceVar(&o.Addresses, "address", []string{"localhost"}, "addresses to listen on (comma separated); localhost is 127.0.0.1 and ::1")
	return cmd
}
