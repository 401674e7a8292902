package object

import (
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateContainers checks the containers (or init containers) at p. volumes are
// the pod's declared volume names; names collects container names, which must be
// unique across containers and init containers.
func validateContainers(p *field.Path, containers []corev1.Container, init bool, volumes, names map[string]bool) field.ErrorList {
	var errs field.ErrorList
	for i := range containers {
		c := &containers[i]
		cp := p.Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(cp.Child("name"), ""))
		case names[c.Name]:
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		default:
			errs = append(errs, invalidEach(cp.Child("name"), c.Name, validation.IsDNS1123Label(c.Name))...)
		}
		names[c.Name] = true
		switch {
		case c.Image == "":
			errs = append(errs, field.Required(cp.Child("image"), ""))
		case strings.TrimSpace(c.Image) != c.Image:
			errs = append(errs, field.Invalid(cp.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		errs = append(errs, oneOf(cp.Child("imagePullPolicy"), c.ImagePullPolicy, false, corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)...)
		errs = append(errs, oneOf(cp.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, false,
			corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)...)
		errs = append(errs, validateContainerPorts(cp.Child("ports"), c.Ports)...)
		errs = append(errs, validateEnv(cp.Child("env"), c.Env)...)
		errs = append(errs, validateEnvFrom(cp.Child("envFrom"), c.EnvFrom)...)
		errs = append(errs, validateVolumeMounts(cp.Child("volumeMounts"), c.VolumeMounts, volumes)...)
		errs = append(errs, validateResources(cp.Child("resources"), &c.Resources)...)
		errs = append(errs, validateContainerLifecycle(cp, c, init)...)
	}
	return errs
}

// validateContainerLifecycle checks restart policy, probes and hooks. A regular init
// container runs to completion, so only a sidecar (restartPolicy: Always) may have
// probes or hooks.
func validateContainerLifecycle(p *field.Path, c *corev1.Container, init bool) field.ErrorList {
	var errs field.ErrorList
	sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	if c.RestartPolicy != nil {
		allowed := []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}
		if !init {
			allowed = append(allowed, corev1.ContainerRestartPolicyOnFailure, corev1.ContainerRestartPolicyNever)
		}
		errs = append(errs, oneOf(p.Child("restartPolicy"), *c.RestartPolicy, false, allowed...)...)
	}
	probes := []struct {
		name     string
		probe    *corev1.Probe
		succeeds bool // successThreshold must be 1
	}{{"livenessProbe", c.LivenessProbe, true}, {"readinessProbe", c.ReadinessProbe, false}, {"startupProbe", c.StartupProbe, true}}
	for _, pr := range probes {
		if pr.probe == nil {
			continue
		}
		pp := p.Child(pr.name)
		if init && !sidecar {
			errs = append(errs, field.Forbidden(pp, "may not be set for init containers without restartPolicy: Always"))
			continue
		}
		errs = append(errs, validateProbe(pp, pr.probe, pr.succeeds)...)
	}
	if l := c.Lifecycle; l != nil {
		if init && !sidecar {
			errs = append(errs, field.Forbidden(p.Child("lifecycle"), "may not be set for init containers without restartPolicy: Always"))
		}
		for _, h := range []struct {
			name    string
			handler *corev1.LifecycleHandler
		}{{"postStart", l.PostStart}, {"preStop", l.PreStop}} {
			if h.handler != nil {
				hp := p.Child("lifecycle", h.name)
				errs = append(errs, validateHandler(hp, h.handler.Exec, h.handler.HTTPGet, h.handler.TCPSocket, nil, h.handler.Sleep)...)
			}
		}
	}
	return errs
}

func validateContainerPorts(p *field.Path, ports []corev1.ContainerPort) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		pp := p.Index(i)
		if port.Name != "" {
			if names[port.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names[port.Name] = true
			errs = append(errs, invalidEach(pp.Child("name"), port.Name, validation.IsValidPortName(port.Name))...)
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(pp.Child("containerPort"), ""))
		} else {
			errs = append(errs, validatePortNumber(pp.Child("containerPort"), port.ContainerPort)...)
		}
		if port.HostPort != 0 {
			errs = append(errs, validatePortNumber(pp.Child("hostPort"), port.HostPort)...)
		}
		errs = append(errs, validateProtocol(pp.Child("protocol"), port.Protocol)...)
	}
	return errs
}

func validateEnv(p *field.Path, env []corev1.EnvVar) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range env {
		ep := p.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			errs = append(errs, invalidEach(ep.Child("name"), ev.Name, validation.IsRelaxedEnvVarName(ev.Name))...)
		}
		from := ev.ValueFrom
		if from == nil {
			continue
		}
		fp := ep.Child("valueFrom")
		sources := 0
		if from.FieldRef != nil {
			sources++
			if from.FieldRef.FieldPath == "" {
				errs = append(errs, field.Required(fp.Child("fieldRef", "fieldPath"), ""))
			}
		}
		if from.ResourceFieldRef != nil {
			sources++
			if from.ResourceFieldRef.Resource == "" {
				errs = append(errs, field.Required(fp.Child("resourceFieldRef", "resource"), ""))
			}
		}
		if from.ConfigMapKeyRef != nil {
			sources++
			errs = append(errs, validateKeyRef(fp.Child("configMapKeyRef"), from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key)...)
		}
		if from.SecretKeyRef != nil {
			sources++
			errs = append(errs, validateKeyRef(fp.Child("secretKeyRef"), from.SecretKeyRef.Name, from.SecretKeyRef.Key)...)
		}
		if from.FileKeyRef != nil {
			sources++
		}
		switch {
		case sources == 0:
			errs = append(errs, field.Invalid(fp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`"))
		case sources > 1:
			errs = append(errs, field.Invalid(fp, "", "may not have more than one field specified at a time"))
		}
		if ev.Value != "" {
			errs = append(errs, field.Invalid(fp, "", "may not be specified when `value` is not empty"))
		}
	}
	return errs
}

func validateKeyRef(p *field.Path, name, key string) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if key == "" {
		return append(errs, field.Required(p.Child("key"), ""))
	}
	return append(errs, invalidEach(p.Child("key"), key, validation.IsConfigMapKey(key))...)
}

func validateEnvFrom(p *field.Path, sources []corev1.EnvFromSource) field.ErrorList {
	var errs field.ErrorList
	for i, s := range sources {
		sp := p.Index(i)
		if s.Prefix != "" {
			errs = append(errs, invalidEach(sp.Child("prefix"), s.Prefix, validation.IsRelaxedEnvVarName(s.Prefix))...)
		}
		switch {
		case s.ConfigMapRef == nil && s.SecretRef == nil:
			errs = append(errs, field.Invalid(sp, "", "must specify one of: `configMapRef` or `secretRef`"))
		case s.ConfigMapRef != nil && s.SecretRef != nil:
			errs = append(errs, field.Invalid(sp, "", "may not have more than one field specified at a time"))
		case s.ConfigMapRef != nil && s.ConfigMapRef.Name == "":
			errs = append(errs, field.Required(sp.Child("configMapRef", "name"), ""))
		case s.SecretRef != nil && s.SecretRef.Name == "":
			errs = append(errs, field.Required(sp.Child("secretRef", "name"), ""))
		}
	}
	return errs
}

func validateVolumeMounts(p *field.Path, mounts []corev1.VolumeMount, volumes map[string]bool) field.ErrorList {
	var errs field.ErrorList
	mountPaths := map[string]bool{}
	for i, m := range mounts {
		mp := p.Index(i)
		switch {
		case m.Name == "":
			errs = append(errs, field.Required(mp.Child("name"), ""))
		case !volumes[m.Name]:
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		switch {
		case m.MountPath == "":
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		case !path.IsAbs(m.MountPath):
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be an absolute path"))
		case mountPaths[path.Clean(m.MountPath)]:
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mountPaths[path.Clean(m.MountPath)] = true
		errs = append(errs, validateRelativePath(mp.Child("subPath"), m.SubPath, true)...)
		if m.SubPath != "" && m.SubPathExpr != "" {
			errs = append(errs, field.Invalid(mp.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
		}
		if m.MountPropagation != nil {
			errs = append(errs, oneOf(mp.Child("mountPropagation"), *m.MountPropagation, false,
				corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone)...)
		}
	}
	return errs
}

// podResourcePIDs is the process-count limit pod-level resources may also set.
const podResourcePIDs corev1.ResourceName = "pids"

// validateResources checks names (the standard ones, extended resources, and any
// extra names given) and quantities: non-negative, requests at most limits, and
// extended resources (which cannot be overcommitted) whole and with requests equal
// to limits.
func validateResources(p *field.Path, r *corev1.ResourceRequirements, extra ...corev1.ResourceName) field.ErrorList {
	var errs field.ErrorList
	for _, list := range []struct {
		name      string
		resources corev1.ResourceList
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		for _, name := range sortedResourceNames(list.resources) {
			q := list.resources[name]
			rp := p.Child(list.name).Key(string(name))
			if !slices.Contains(extra, name) {
				errs = append(errs, validateResourceName(rp, name)...)
			}
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(rp, q.String(), "must be greater than or equal to 0"))
			}
			if isExtendedResource(name) && q.MilliValue()%1000 != 0 {
				errs = append(errs, field.Invalid(rp, q.String(), "must be an integer"))
			}
		}
	}
	for _, name := range sortedResourceNames(r.Requests) {
		request, rp := r.Requests[name], p.Child("requests").Key(string(name))
		limit, limited := r.Limits[name]
		overcommit := !isExtendedResource(name) && !strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
		switch {
		case !overcommit && !limited:
			errs = append(errs, field.Forbidden(p.Child("limits"), fmt.Sprintf("a limit must be set for %s, which cannot be overcommitted", name)))
		case !overcommit && request.Cmp(limit) != 0:
			errs = append(errs, field.Invalid(rp, request.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
		case limited && request.Cmp(limit) > 0:
			errs = append(errs, field.Invalid(rp, request.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		}
	}
	return errs
}

func sortedResourceNames(list corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(list))
	for name := range list {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// validateResourceName allows cpu, memory, ephemeral-storage, hugepages-<size>, and
// extended resources named with a domain outside kubernetes.io (example.com/gpu).
func validateResourceName(p *field.Path, name corev1.ResourceName) field.ErrorList {
	switch {
	case name == corev1.ResourceCPU || name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage:
		return nil
	case strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix):
		if _, err := resource.ParseQuantity(strings.TrimPrefix(string(name), corev1.ResourceHugePagesPrefix)); err != nil {
			return field.ErrorList{field.Invalid(p, name, "must be hugepages-<page size>, e.g. hugepages-2Mi")}
		}
		return nil
	case isExtendedResource(name):
		return invalidEach(p, name, validation.IsQualifiedName(string(name)))
	}
	return field.ErrorList{field.Invalid(p, name,
		"must be cpu, memory, ephemeral-storage, hugepages-<size>, or an extended resource named with a domain (example.com/gpu)")}
}

func isExtendedResource(name corev1.ResourceName) bool {
	return strings.Contains(string(name), "/") && !strings.Contains(string(name), "kubernetes.io/") &&
		!strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix)
}

// validateProbe checks a probe; succeeds is true for liveness and startup probes,
// whose successThreshold must be 1.
func validateProbe(p *field.Path, pr *corev1.Probe, succeeds bool) field.ErrorList {
	h := pr.ProbeHandler
	errs := validateHandler(p, h.Exec, h.HTTPGet, h.TCPSocket, h.GRPC, nil)
	errs = append(errs, nonNegative(p.Child("initialDelaySeconds"), int64(pr.InitialDelaySeconds))...)
	errs = append(errs, atLeastOne(p.Child("timeoutSeconds"), pr.TimeoutSeconds)...)
	errs = append(errs, atLeastOne(p.Child("periodSeconds"), pr.PeriodSeconds)...)
	errs = append(errs, atLeastOne(p.Child("successThreshold"), pr.SuccessThreshold)...)
	errs = append(errs, atLeastOne(p.Child("failureThreshold"), pr.FailureThreshold)...)
	if succeeds && pr.SuccessThreshold > 1 {
		errs = append(errs, field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	if s := pr.TerminationGracePeriodSeconds; s != nil && *s < 1 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *s, "must be greater than 0"))
	}
	return errs
}

// validateHandler checks that exactly one action of a probe or lifecycle hook is
// set, and that action.
func validateHandler(p *field.Path, exec *corev1.ExecAction, httpGet *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction,
	grpc *corev1.GRPCAction, sleep *corev1.SleepAction) field.ErrorList {
	var errs field.ErrorList
	var set []string
	if exec != nil {
		set = append(set, "exec")
		if len(exec.Command) == 0 {
			errs = append(errs, field.Required(p.Child("exec", "command"), ""))
		}
	}
	if httpGet != nil {
		set = append(set, "httpGet")
		errs = append(errs, validatePortNumOrName(p.Child("httpGet", "port"), httpGet.Port)...)
		errs = append(errs, oneOf(p.Child("httpGet", "scheme"), httpGet.Scheme, false, corev1.URISchemeHTTP, corev1.URISchemeHTTPS)...)
		for i, hdr := range httpGet.HTTPHeaders {
			errs = append(errs, invalidEach(p.Child("httpGet", "httpHeaders").Index(i).Child("name"), hdr.Name, validation.IsHTTPHeaderName(hdr.Name))...)
		}
	}
	if tcp != nil {
		set = append(set, "tcpSocket")
		errs = append(errs, validatePortNumOrName(p.Child("tcpSocket", "port"), tcp.Port)...)
	}
	if grpc != nil {
		set = append(set, "grpc")
		errs = append(errs, validatePortNumber(p.Child("grpc", "port"), grpc.Port)...)
	}
	if sleep != nil {
		set = append(set, "sleep")
		errs = append(errs, nonNegative(p.Child("sleep", "seconds"), sleep.Seconds)...)
	}
	switch {
	case len(set) == 0:
		errs = append(errs, field.Required(p, "must specify a handler type"))
	case len(set) > 1:
		errs = append(errs, field.Forbidden(p.Child(set[1]), "may not specify more than 1 handler type (also has "+set[0]+")"))
	}
	return errs
}
