package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// newCreateServiceCmd is kubectl's `create service clusterip|nodeport|
// loadbalancer|externalname NAME`: a Service selecting app=NAME, one port per
// --tcp=port[:targetPort] named "port-targetPort".
func newCreateServiceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "service",
		Aliases: []string{"svc"},
		Short:   "Create a service of one type: clusterip, nodeport, loadbalancer or externalname",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("a service type is required: wake create service clusterip|nodeport|loadbalancer|externalname NAME")
		},
	}
	for _, typ := range []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName} {
		cmd.AddCommand(newCreateServiceTypeCmd(g, typ))
	}
	return cmd
}

func newCreateServiceTypeCmd(g *globals, typ corev1.ServiceType) *cobra.Command {
	var tcp []string
	var clusterIP, externalName string
	var nodePort int32
	var out createOutput
	use := strings.ToLower(string(typ))
	cmd := &cobra.Command{
		Use:   use + " NAME [--tcp=<port>:<targetPort>] [--dry-run=client]",
		Short: "Create a " + string(typ) + " service",
		Args:  oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: g.namespace, Labels: map[string]string{"app": name}},
				Spec:       corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name}, ClusterIP: clusterIP, ExternalName: externalName},
			}
			svc.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Service"))
			if typ == corev1.ServiceTypeExternalName {
				if externalName == "" {
					return errors.New("--external-name is required for an externalname service (a DNS name such as example.com)")
				}
			} else if len(tcp) == 0 && clusterIP != corev1.ClusterIPNone {
				return errors.New("at least one tcp port specifier must be provided")
			}
			for _, spec := range tcp {
				port, target, hasTarget := strings.Cut(spec, ":")
				p, err := strconv.ParseUint(port, 10, 16)
				if err != nil {
					return fmt.Errorf("--tcp=%s: strconv.ParseUint: parsing %q: invalid syntax", spec, port)
				}
				sp := corev1.ServicePort{Name: strings.ReplaceAll(spec, ":", "-"), Port: int32(p), Protocol: corev1.ProtocolTCP,
					TargetPort: intstr.FromInt32(int32(p))}
				if hasTarget {
					sp.TargetPort = intstr.Parse(target)
				}
				if typ == corev1.ServiceTypeNodePort {
					sp.NodePort = nodePort
				}
				svc.Spec.Ports = append(svc.Spec.Ports, sp)
			}
			return g.createObject(cmd, svc, &out)
		},
	}
	if typ != corev1.ServiceTypeExternalName {
		cmd.Flags().StringSliceVar(&tcp, "tcp", nil, "Port pairs can be specified as '<port>:<targetPort>'.")
	}
	switch typ {
	case corev1.ServiceTypeClusterIP:
		cmd.Flags().StringVar(&clusterIP, "clusterip", "", "Assign your own ClusterIP or set to 'None' for a 'headless' service (no loadbalancing).")
	case corev1.ServiceTypeNodePort:
		cmd.Flags().Int32Var(&nodePort, "node-port", 0, "Port used to expose the service on each node in a cluster (default: one allocated from 30000-32767).")
	case corev1.ServiceTypeExternalName:
		cmd.Flags().StringVar(&externalName, "external-name", "", "External name of service")
	}
	out.register(cmd)
	return cmd
}

// exposeFlags are kubectl expose's.
type exposeFlags struct {
	port, targetPort, typ, name, protocol, selector, clusterIP string
	out                                                        createOutput
}

// newExposeCmd is kubectl's `expose deploy|rs|pod|svc NAME`: a Service that
// selects what the object selects (a workload's matchLabels, a pod's labels, a
// service's selector), with the object's labels and, without --port, one port
// per container port.
func newExposeCmd(g *globals) *cobra.Command {
	var f exposeFlags
	cmd := &cobra.Command{
		Use:   "expose (deployment|replicaset|pod|service) NAME [--port=port] [--target-port=port] [--type=type] [--name=name] [--protocol=TCP|UDP]",
		Short: "Expose a deployment, replica set, pod or service as a new Service",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := parseTargets(args)
			if err != nil {
				return err
			}
			if len(targets) != 1 || len(targets[0].names) != 1 {
				return errors.New("expose takes one object: TYPE NAME or TYPE/NAME")
			}
			k, name := targets[0].kind, targets[0].names[0]
			switch k.Kind {
			case "Deployment", "ReplicaSet", "Pod", "Service":
			default:
				return fmt.Errorf("cannot expose a %s: expose a deployment, replicaset, pod or service", k.Kind)
			}
			c, err := g.connect()
			if err != nil {
				return err
			}
			defer c.Close()
			ns := g.namespace
			if ns == "" {
				ns = "default"
			}
			st, err := c.Query.Get(cmd.Context(), k, ns, name)
			if err != nil {
				return err
			}
			svc, err := f.service(st.Object)
			if err != nil {
				return err
			}
			svc.Namespace = g.namespace
			f.out.verb = "exposed"
			return g.createObject(cmd, svc, &f.out)
		},
	}
	cmd.Flags().StringVar(&f.port, "port", "", "The port that the service should serve on. Copied from the resource being exposed, if unspecified")
	cmd.Flags().StringVar(&f.targetPort, "target-port", "", "Name or number for the port on the container that the service should direct traffic to. Optional.")
	cmd.Flags().StringVar(&f.typ, "type", "", "Type for this service: ClusterIP, NodePort, LoadBalancer, or ExternalName. Default is 'ClusterIP'.")
	cmd.Flags().StringVar(&f.name, "name", "", "The name for the newly created object (default: the exposed object's).")
	cmd.Flags().StringVar(&f.protocol, "protocol", "", "The network protocol for the service to be created. Default is 'TCP'.")
	cmd.Flags().StringVarP(&f.selector, "selector", "l", "", "A label selector to use for this service. Only equality-based selector requirements are supported. If empty (the default) infer the selector from the object exposed.")
	cmd.Flags().StringVar(&f.clusterIP, "cluster-ip", "", "ClusterIP to be assigned to the service. Leave empty to auto-allocate, or set to 'None' to create a headless service.")
	f.out.register(cmd)
	return cmd
}

// service is the Service that exposes obj.
func (f *exposeFlags) service(obj object.Object) (*corev1.Service, error) {
	selector, err := f.selectorOf(obj)
	if err != nil {
		return nil, err
	}
	name := f.name
	if name == "" {
		name = obj.GetName()
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: obj.GetLabels()},
		Spec:       corev1.ServiceSpec{Selector: selector, Type: corev1.ServiceType(f.typ), ClusterIP: f.clusterIP},
	}
	svc.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Service"))
	ports, protocols := portsOf(obj)
	if f.port != "" {
		ports = []string{f.port}
	}
	if len(ports) == 0 {
		return nil, errors.New("couldn't find port via --port flag or introspection")
	}
	for i, port := range ports {
		n, err := strconv.ParseInt(port, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--port %q: a port number is required", port)
		}
		sp := corev1.ServicePort{Port: int32(n), Protocol: corev1.Protocol(f.protocol), TargetPort: intstr.FromInt32(int32(n))}
		if sp.Protocol == "" {
			sp.Protocol = protocols[port]
		}
		if sp.Protocol == "" {
			sp.Protocol = corev1.ProtocolTCP
		}
		if len(ports) > 1 {
			sp.Name = fmt.Sprintf("port-%d", i+1)
		}
		if f.targetPort != "" {
			sp.TargetPort = intstr.Parse(f.targetPort)
		}
		svc.Spec.Ports = append(svc.Spec.Ports, sp)
	}
	return svc, nil
}

// selectorOf is --selector, or what obj selects.
func (f *exposeFlags) selectorOf(obj object.Object) (map[string]string, error) {
	if f.selector != "" {
		sel, err := labels.ConvertSelectorToLabelsMap(f.selector)
		if err != nil {
			return nil, fmt.Errorf("--selector %q: only equality-based requirements (k=v,k2=v2) are supported: %w", f.selector, err)
		}
		return sel, nil
	}
	var ls *metav1.LabelSelector
	switch o := obj.(type) {
	case *corev1.Pod:
		if len(o.Labels) == 0 {
			return nil, fmt.Errorf("the pod %s has no labels to select it by; label it or give --selector", o.Name)
		}
		return o.Labels, nil
	case *corev1.Service:
		if len(o.Spec.Selector) == 0 {
			return nil, errors.New("the service has no pod selector set")
		}
		return o.Spec.Selector, nil
	case *appsv1.Deployment:
		ls = o.Spec.Selector
	case *appsv1.ReplicaSet:
		ls = o.Spec.Selector
	}
	if ls == nil || len(ls.MatchExpressions) > 0 {
		return nil, fmt.Errorf("couldn't convert expressions - %q to map-based selector format; give --selector", metav1.FormatLabelSelector(ls))
	}
	return ls.MatchLabels, nil
}

// portsOf are the ports obj serves (its containers', a Service's) and their
// protocols.
func portsOf(obj object.Object) ([]string, map[string]corev1.Protocol) {
	var ports []string
	protocols := map[string]corev1.Protocol{}
	add := func(port int32, proto corev1.Protocol) {
		p := strconv.Itoa(int(port))
		ports = append(ports, p)
		protocols[p] = proto
	}
	var containers []corev1.Container
	switch o := obj.(type) {
	case *corev1.Pod:
		containers = o.Spec.Containers
	case *appsv1.Deployment:
		containers = o.Spec.Template.Spec.Containers
	case *appsv1.ReplicaSet:
		containers = o.Spec.Template.Spec.Containers
	case *corev1.Service:
		for _, p := range o.Spec.Ports {
			add(p.Port, p.Protocol)
		}
	}
	for _, c := range containers {
		for _, p := range c.Ports {
			add(p.ContainerPort, p.Protocol)
		}
	}
	return ports, protocols
}
