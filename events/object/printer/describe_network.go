package printer

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func (d describer) service(svc *corev1.Service) {
	w := d.w
	w.write(level0, "Name:\t%s\n", svc.Name)
	w.write(level0, "Namespace:\t%s\n", svc.Namespace)
	d.labels("Labels", svc.Labels)
	d.annotations("Annotations", svc.Annotations)
	w.write(level0, "Selector:\t%s\n", labels.FormatLabels(svc.Spec.Selector))
	w.write(level0, "Type:\t%s\n", serviceType(svc))
	if svc.Spec.IPFamilyPolicy != nil {
		w.write(level0, "IP Family Policy:\t%s\n", *svc.Spec.IPFamilyPolicy)
	}
	families := make([]string, 0, len(svc.Spec.IPFamilies))
	for _, f := range svc.Spec.IPFamilies {
		families = append(families, string(f))
	}
	w.write(level0, "IP Families:\t%s\n", orNone(strings.Join(families, ",")))
	w.write(level0, "IP:\t%s\n", svc.Spec.ClusterIP)
	w.write(level0, "IPs:\t%s\n", orNone(strings.Join(svc.Spec.ClusterIPs, ",")))
	if len(svc.Spec.ExternalIPs) > 0 {
		w.write(level0, "External IPs:\t%s\n", strings.Join(svc.Spec.ExternalIPs, ","))
	}
	if svc.Spec.ExternalName != "" {
		w.write(level0, "External Name:\t%s\n", svc.Spec.ExternalName)
	}
	if ing := svc.Status.LoadBalancer.Ingress; len(ing) > 0 {
		list := make([]string, 0, len(ing))
		for _, in := range ing {
			if in.IP != "" {
				list = append(list, in.IP)
			} else {
				list = append(list, in.Hostname)
			}
		}
		w.write(level0, "LoadBalancer Ingress:\t%s\n", strings.Join(list, ", "))
	}
	for _, p := range svc.Spec.Ports {
		name := p.Name
		if name == "" {
			name = "<unset>"
		}
		proto := protocolOrDefault(p.Protocol)
		w.write(level0, "Port:\t%s\t%d/%s\n", name, p.Port, proto)
		target := p.TargetPort.String()
		if p.TargetPort.IntVal == 0 && p.TargetPort.StrVal == "" {
			target = fmt.Sprint(p.Port) // API default: the service port
		}
		w.write(level0, "TargetPort:\t%s/%s\n", target, proto)
		if p.NodePort != 0 {
			w.write(level0, "NodePort:\t%s\t%d/%s\n", name, p.NodePort, proto)
		}
		w.write(level0, "Endpoints:\t%s\n", d.serviceEndpoints(p.Name))
	}
	affinity := svc.Spec.SessionAffinity
	if affinity == "" {
		affinity = corev1.ServiceAffinityNone
	}
	w.write(level0, "Session Affinity:\t%s\n", affinity)
	if svc.Spec.ExternalTrafficPolicy != "" {
		w.write(level0, "External Traffic Policy:\t%s\n", svc.Spec.ExternalTrafficPolicy)
	}
	if svc.Spec.InternalTrafficPolicy != nil {
		w.write(level0, "Internal Traffic Policy:\t%s\n", *svc.Spec.InternalTrafficPolicy)
	}
}

// serviceEndpoints is kubectl's Endpoints line of a Service port: up to three
// ready ip:port of its EndpointSlices, then " + N more..."; "<none>" without
// slices, "<unknown>" when they were not fetched.
func (d describer) serviceEndpoints(port string) string {
	if d.rel.EndpointSlices == nil {
		return "<unknown>"
	}
	if len(d.rel.EndpointSlices) == 0 {
		return "<none>"
	}
	var list []string
	for _, s := range d.rel.EndpointSlices {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			if len(s.Ports) == 0 {
				list = append(list, e.Addresses...)
				continue
			}
			for _, p := range s.Ports {
				if p.Name == nil || *p.Name != port || p.Port == nil {
					continue
				}
				for _, a := range e.Addresses {
					list = append(list, net.JoinHostPort(a, strconv.Itoa(int(*p.Port))))
				}
			}
		}
	}
	if len(list) > 3 {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:3], ","), len(list)-3)
	}
	return strings.Join(list, ",")
}

func (d describer) endpoints(ep *corev1.Endpoints) {
	w := d.w
	w.write(level0, "Name:\t%s\n", ep.Name)
	w.write(level0, "Namespace:\t%s\n", ep.Namespace)
	d.labels("Labels", ep.Labels)
	d.annotations("Annotations", ep.Annotations)
	w.write(level0, "Subsets:\n")
	for _, ss := range ep.Subsets {
		w.write(level1, "Addresses:\t%s\n", orNone(joinIPs(ss.Addresses)))
		w.write(level1, "NotReadyAddresses:\t%s\n", orNone(joinIPs(ss.NotReadyAddresses)))
		if len(ss.Ports) > 0 {
			w.write(level1, "Ports:\n")
			w.write(level2, "Name\tPort\tProtocol\n")
			w.write(level2, "----\t----\t--------\n")
			for _, p := range ss.Ports {
				name := p.Name
				if name == "" {
					name = "<unset>"
				}
				w.write(level2, "%s\t%d\t%s\n", name, p.Port, protocolOrDefault(p.Protocol))
			}
		}
		w.write(level0, "\n")
	}
}

func joinIPs(addrs []corev1.EndpointAddress) string {
	ips := make([]string, 0, len(addrs))
	for _, a := range addrs {
		ips = append(ips, a.IP)
	}
	return strings.Join(ips, ",")
}

func (d describer) ingress(ing *networkingv1.Ingress) {
	w := d.w
	w.write(level0, "Name:\t%s\n", ing.Name)
	d.labels("Labels", ing.Labels)
	w.write(level0, "Namespace:\t%s\n", ing.Namespace)
	w.write(level0, "Address:\t%s\n", ingressAddresses(ing.Status.LoadBalancer.Ingress, true))
	class := "<none>"
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	w.write(level0, "Ingress Class:\t%s\n", class)
	def := "<default>"
	if ing.Spec.DefaultBackend != nil {
		def = d.ingressBackendEndpoints(ing.Namespace, ing.Spec.DefaultBackend)
	}
	w.write(level0, "Default backend:\t%s\n", def)
	if len(ing.Spec.TLS) > 0 {
		w.write(level0, "TLS:\n")
		for _, t := range ing.Spec.TLS {
			if t.SecretName == "" {
				w.write(level1, "SNI routes %s\n", strings.Join(t.Hosts, ","))
			} else {
				w.write(level1, "%s terminates %s\n", t.SecretName, strings.Join(t.Hosts, ","))
			}
		}
	}
	w.write(level0, "Rules:\n  Host\tPath\tBackends\n")
	w.write(level1, "----\t----\t--------\n")
	count := 0
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		count++
		host := r.Host
		if host == "" {
			host = "*"
		}
		w.write(level1, "%s\t\n", host)
		for _, p := range r.HTTP.Paths {
			w.write(level2, "\t%s \t%s\n", p.Path, d.ingressBackendEndpoints(ing.Namespace, &p.Backend))
		}
	}
	if count == 0 {
		w.write(level1, "%s\t%s\t%s\n", "*", "*", def)
	}
	d.annotations("Annotations", ing.Annotations)
}

// ingressBackendEndpoints renders a backend as kubectl does: "service:port"
// followed by the endpoints of the Service's port in parentheses (or the
// error of looking them up), when the Endpoints are known.
func (d describer) ingressBackendEndpoints(ns string, b *networkingv1.IngressBackend) string {
	sb := ingressBackend(b)
	if b.Service == nil || d.rel.Endpoints == nil {
		return sb
	}
	var ep *corev1.Endpoints
	for _, e := range d.rel.Endpoints {
		if e.Namespace == ns && e.Name == b.Service.Name {
			ep = e
		}
	}
	if ep == nil {
		return fmt.Sprintf("%s (<error: endpoints %q not found>)", sb, b.Service.Name)
	}
	var svc *corev1.Service
	for _, s := range d.rel.Services {
		if s.Namespace == ns && s.Name == b.Service.Name {
			svc = s
		}
	}
	if svc == nil {
		return fmt.Sprintf("%s(<error: services %q not found>)", sb, b.Service.Name)
	}
	name := ""
	for _, sp := range svc.Spec.Ports {
		if (b.Service.Port.Number != 0 && b.Service.Port.Number == sp.Port) || (b.Service.Port.Name != "" && b.Service.Port.Name == sp.Name) {
			name = sp.Name
		}
	}
	return fmt.Sprintf("%s (%s)", sb, formatPortEndpoints(ep, name))
}

// formatPortEndpoints lists up to three ip:port of an Endpoints' port named
// port, as kubectl's describe of an Ingress does.
func formatPortEndpoints(ep *corev1.Endpoints, port string) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	count := 0
	add := func(s string) {
		if len(list) < max {
			list = append(list, s)
		}
		count++
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			if p.Name != port {
				continue
			}
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	ret := strings.Join(list, ",")
	if count > max {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	return ret
}

// ingressBackend renders "service:port" or the resource reference.
func ingressBackend(b *networkingv1.IngressBackend) string {
	switch {
	case b.Service != nil:
		port := b.Service.Port.Name
		if b.Service.Port.Number != 0 {
			port = fmt.Sprint(b.Service.Port.Number)
		}
		return b.Service.Name + ":" + port
	case b.Resource != nil:
		group := "<none>"
		if b.Resource.APIGroup != nil {
			group = *b.Resource.APIGroup
		}
		return fmt.Sprintf("APIGroup: %s, Kind: %s, Name: %s", group, b.Resource.Kind, b.Resource.Name)
	}
	return ""
}
