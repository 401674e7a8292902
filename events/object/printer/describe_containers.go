package printer

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// containers mirrors kubectl's describeContainers; pod is nil for templates.
func (d describer) containers(label string, containers []corev1.Container, statuses []corev1.ContainerStatus, pod *corev1.Pod, space string) {
	w := d.w
	byName := map[string]corev1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.Name] = s
	}
	none := ""
	if len(containers) == 0 {
		none = " <none>"
	}
	w.write(level0, "%s%s:%s\n", space, label, none)
	nameIndent := ""
	if space != "" {
		nameIndent = " "
	}
	for _, c := range containers {
		status, ok := byName[c.Name]
		w.write(level1, "%s%s:\n", nameIndent, c.Name)
		if ok {
			w.write(level2, "Container ID:\t%s\n", status.ContainerID)
		}
		w.write(level2, "Image:\t%s\n", c.Image)
		if ok {
			w.write(level2, "Image ID:\t%s\n", status.ImageID)
		}
		ports, hostPorts := containerPorts(c.Ports)
		if strings.Contains(ports, ",") {
			w.write(level2, "Ports:\t%s\n", ports)
		} else {
			w.write(level2, "Port:\t%s\n", orNone(ports))
		}
		if strings.Contains(hostPorts, ",") {
			w.write(level2, "Host Ports:\t%s\n", hostPorts)
		} else {
			w.write(level2, "Host Port:\t%s\n", orNone(hostPorts))
		}
		d.lines("Command", c.Command)
		d.lines("Args", c.Args)
		if ok {
			d.containerState("State", status.State)
			if status.LastTerminationState.Terminated != nil {
				d.containerState("Last State", status.LastTerminationState)
			}
			w.write(level2, "Ready:\t%s\n", printBool(status.Ready))
			w.write(level2, "Restart Count:\t%d\n", status.RestartCount)
		}
		d.resources(c.Resources.Limits, "Limits")
		d.resources(c.Resources.Requests, "Requests")
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
		}{{"Liveness", c.LivenessProbe}, {"Readiness", c.ReadinessProbe}, {"Startup", c.StartupProbe}} {
			if p.probe != nil {
				w.write(level2, "%s:\t%s\n", p.name, describeProbe(p.probe))
			}
		}
		if len(c.EnvFrom) > 0 {
			d.envFrom(c.EnvFrom)
		}
		d.env(c, pod)
		d.mounts(c)
	}
}

func containerPorts(ports []corev1.ContainerPort) (string, string) {
	var cp, hp []string
	for _, p := range ports {
		proto := protocolOrDefault(p.Protocol)
		suffix := ""
		if p.Name != "" {
			suffix = fmt.Sprintf(" (%s)", p.Name)
		}
		cp = append(cp, fmt.Sprintf("%d/%s%s", p.ContainerPort, proto, suffix))
		hp = append(hp, fmt.Sprintf("%d/%s%s", p.HostPort, proto, suffix))
	}
	return strings.Join(cp, ", "), strings.Join(hp, ", ")
}

// lines prints a container's command or args, one element per line.
func (d describer) lines(title string, items []string) {
	if len(items) == 0 {
		return
	}
	d.w.write(level2, "%s:\n", title)
	for _, item := range items {
		for _, s := range strings.Split(item, "\n") {
			d.w.write(level3, "%s\n", s)
		}
	}
}

func (d describer) containerState(name string, s corev1.ContainerState) {
	w := d.w
	switch {
	case s.Running != nil:
		w.write(level2, "%s:\tRunning\n", name)
		w.write(level3, "Started:\t%s\n", timestamp(s.Running.StartedAt.Time))
	case s.Waiting != nil:
		w.write(level2, "%s:\tWaiting\n", name)
		if s.Waiting.Reason != "" {
			w.write(level3, "Reason:\t%s\n", s.Waiting.Reason)
		}
	case s.Terminated != nil:
		t := s.Terminated
		w.write(level2, "%s:\tTerminated\n", name)
		if t.Reason != "" {
			w.write(level3, "Reason:\t%s\n", t.Reason)
		}
		if t.Message != "" {
			w.write(level3, "Message:\t%s\n", t.Message)
		}
		w.write(level3, "Exit Code:\t%d\n", t.ExitCode)
		if t.Signal > 0 {
			w.write(level3, "Signal:\t%d\n", t.Signal)
		}
		w.write(level3, "Started:\t%s\n", timestamp(t.StartedAt.Time))
		w.write(level3, "Finished:\t%s\n", timestamp(t.FinishedAt.Time))
	default:
		w.write(level2, "%s:\tWaiting\n", name)
	}
}

func (d describer) resources(list corev1.ResourceList, title string) {
	if len(list) == 0 {
		return
	}
	d.w.write(level2, "%s:\n", title)
	for _, name := range sortedKeys(resourceMap(list)) {
		q := list[corev1.ResourceName(name)]
		d.w.write(level3, "%s:\t%s\n", name, q.String())
	}
}

func resourceMap(list corev1.ResourceList) map[string]bool {
	m := make(map[string]bool, len(list))
	for k := range list {
		m[string(k)] = true
	}
	return m
}

func describeProbe(p *corev1.Probe) string {
	attrs := fmt.Sprintf("delay=%ds timeout=%ds period=%ds successThreshold=%d failureThreshold=%d",
		p.InitialDelaySeconds, p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold)
	switch {
	case p.Exec != nil:
		return fmt.Sprintf("exec %v %s", p.Exec.Command, attrs)
	case p.HTTPGet != nil:
		u := &url.URL{Scheme: strings.ToLower(string(p.HTTPGet.Scheme)), Path: p.HTTPGet.Path}
		if port := p.HTTPGet.Port.String(); port != "" {
			u.Host = net.JoinHostPort(p.HTTPGet.Host, port)
		} else {
			u.Host = p.HTTPGet.Host
		}
		return fmt.Sprintf("http-get %s %s", u.String(), attrs)
	case p.TCPSocket != nil:
		return fmt.Sprintf("tcp-socket %s:%s %s", p.TCPSocket.Host, p.TCPSocket.Port.String(), attrs)
	case p.GRPC != nil:
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		return fmt.Sprintf("grpc <pod>:%d %s %s", p.GRPC.Port, service, attrs)
	}
	return fmt.Sprintf("unknown %s", attrs)
}

func (d describer) envFrom(sources []corev1.EnvFromSource) {
	d.w.write(level2, "Environment Variables from:\n")
	for _, e := range sources {
		from, name, optional := "", "", false
		if e.ConfigMapRef != nil {
			from, name = "ConfigMap", e.ConfigMapRef.Name
			optional = e.ConfigMapRef.Optional != nil && *e.ConfigMapRef.Optional
		} else if e.SecretRef != nil {
			from, name = "Secret", e.SecretRef.Name
			optional = e.SecretRef.Optional != nil && *e.SecretRef.Optional
		}
		if e.Prefix == "" {
			d.w.write(level3, "%s\t%s\tOptional: %t\n", name, from, optional)
		} else {
			d.w.write(level3, "%s\t%s with prefix '%s'\tOptional: %t\n", name, from, e.Prefix, optional)
		}
	}
}

func (d describer) env(c corev1.Container, pod *corev1.Pod) {
	w := d.w
	if len(c.Env) == 0 {
		w.write(level2, "Environment:\t<none>\n")
		return
	}
	w.write(level2, "Environment:\n")
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			for i, s := range strings.Split(e.Value, "\n") {
				if i == 0 {
					w.write(level3, "%s:\t%s\n", e.Name, s)
				} else {
					w.write(level3, "\t%s\n", s)
				}
			}
		case e.ValueFrom.FieldRef != nil:
			ref := e.ValueFrom.FieldRef
			w.write(level3, "%s:\t%s (%s:%s)\n", e.Name, podFieldValue(pod, ref.FieldPath), ref.APIVersion, ref.FieldPath)
		case e.ValueFrom.ResourceFieldRef != nil:
			res := e.ValueFrom.ResourceFieldRef.Resource
			w.write(level3, "%s:\t%s (%s)\n", e.Name, containerResourceValue(c, res), res)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			w.write(level3, "%s:\t<set to the key '%s' in secret '%s'>\tOptional: %t\n", e.Name, ref.Key, ref.Name, ref.Optional != nil && *ref.Optional)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			w.write(level3, "%s:\t<set to the key '%s' of config map '%s'>\tOptional: %t\n", e.Name, ref.Key, ref.Name, ref.Optional != nil && *ref.Optional)
		default:
			w.write(level3, "%s:\t\n", e.Name)
		}
	}
}

// podFieldValue resolves the downward-API field paths kubectl resolves for
// env vars; it is empty for templates and unknown paths.
func podFieldValue(pod *corev1.Pod, path string) string {
	if pod == nil {
		return ""
	}
	switch path {
	case "metadata.name":
		return pod.Name
	case "metadata.namespace":
		return pod.Namespace
	case "metadata.uid":
		return string(pod.UID)
	case "spec.nodeName":
		return pod.Spec.NodeName
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName
	case "status.hostIP":
		return pod.Status.HostIP
	case "status.podIP":
		return podIP(pod)
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if strings.HasPrefix(path, prefix+"['") && strings.HasSuffix(path, "']") {
			return m[strings.TrimSuffix(strings.TrimPrefix(path, prefix+"['"), "']")]
		}
	}
	return ""
}

// containerResourceValue shows the container's own limit or request for a
// resourceFieldRef; unset limits resolve to the node's allocatable.
func containerResourceValue(c corev1.Container, res string) string {
	kind, name, _ := strings.Cut(res, ".")
	list := c.Resources.Requests
	if kind == "limits" {
		list = c.Resources.Limits
	}
	if q, ok := list[corev1.ResourceName(name)]; ok {
		return q.String()
	}
	if kind == "limits" {
		return "node allocatable"
	}
	return "0"
}

func (d describer) mounts(c corev1.Container) {
	w := d.w
	if len(c.VolumeMounts) == 0 {
		w.write(level2, "Mounts:\t<none>\n")
	} else {
		w.write(level2, "Mounts:\n")
		mounts := append([]corev1.VolumeMount(nil), c.VolumeMounts...)
		sort.SliceStable(mounts, func(i, j int) bool { return mounts[i].MountPath < mounts[j].MountPath })
		for _, m := range mounts {
			flags := []string{"rw"}
			if m.ReadOnly {
				flags[0] = "ro"
			}
			if m.SubPath != "" {
				flags = append(flags, fmt.Sprintf("path=%q", m.SubPath))
			}
			w.write(level3, "%s from %s (%s)\n", m.MountPath, m.Name, strings.Join(flags, ","))
		}
	}
	if len(c.VolumeDevices) > 0 {
		w.write(level2, "Devices:\n")
		for _, dev := range c.VolumeDevices {
			w.write(level3, "%s from %s\n", dev.DevicePath, dev.Name)
		}
	}
}

func printBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
