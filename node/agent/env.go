package agent

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// podFacts are what a pod knows about itself beyond its spec: its address,
// its node's, and the node's capacity (the limit of a container that sets none).
type podFacts struct {
	podIP, hostIP string
	nodeCPU       resource.Quantity
	nodeMemory    resource.Quantity
}

// envVarName is what the kubelet takes from envFrom: a C identifier, dots and
// dashes allowed (validation.IsEnvVarName).
var envVarName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// containerEnv renders a container's environment as the kubelet does: envFrom
// sources first, in order (a later one wins; keys that are not valid variable
// names are skipped), then env, where a value may refer to an earlier variable
// as $(NAME). A missing ConfigMap, Secret or key that is not optional is an
// error in the kubelet's words: the container is not created
// (CreateContainerConfigError). Variables keep the order they first appear in.
// It is pure but for what src reads.
func containerEnv(c *corev1.Container, pod *corev1.Pod, facts podFacts, src configSource) ([]string, error) {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := src.ConfigMap(pod.Namespace, from.ConfigMapRef.Name)
			if err != nil {
				if optional(from.ConfigMapRef.Optional) && errors.Is(err, errConfigNotFound) {
					continue
				}
				return nil, err
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, err := src.Secret(pod.Namespace, from.SecretRef.Name)
			if err != nil {
				if optional(from.SecretRef.Optional) && errors.Is(err, errConfigNotFound) {
					continue
				}
				return nil, err
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		for _, k := range sortedKeys(data) {
			if name := from.Prefix + k; envVarName.MatchString(name) {
				set(name, data[k])
			}
		}
	}
	for _, e := range c.Env {
		v, ok, err := envValue(e, c, pod, facts, src, values)
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, v)
		}
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, n+"="+values[n])
	}
	return out, nil
}

// envValue is one env entry's value; ok is false for an optional reference that
// resolves to nothing (the variable is left out).
func envValue(e corev1.EnvVar, c *corev1.Container, pod *corev1.Pod, facts podFacts, src configSource, defined map[string]string) (string, bool, error) {
	from := e.ValueFrom
	if from == nil {
		return expand(e.Value, defined), true, nil
	}
	switch {
	case from.FieldRef != nil:
		v, err := podField(pod, from.FieldRef.FieldPath, facts)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := resourceField(pod, c, from.ResourceFieldRef, facts)
		return v, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := src.ConfigMap(pod.Namespace, ref.Name)
		if err != nil {
			if optional(ref.Optional) && errors.Is(err, errConfigNotFound) {
				return "", false, nil
			}
			return "", false, err
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, true, nil
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := src.Secret(pod.Namespace, ref.Name)
		if err != nil {
			if optional(ref.Optional) && errors.Is(err, errConfigNotFound) {
				return "", false, nil
			}
			return "", false, err
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), true, nil
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
	}
	return "", false, fmt.Errorf("env %s: valueFrom names no source (allowed: fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef)", e.Name)
}

func optional(o *bool) bool { return o != nil && *o }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expand replaces $(NAME) with the value of a variable defined before, as the
// kubelet does: $$ is a literal $, and a reference to an unknown name stays as
// written.
func expand(s string, defined map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := defined[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// podField is the value of a downward-API field path, as env and files show it.
// metadata.labels and metadata.annotations (files only) are one key="value"
// line per entry, sorted by key.
func podField(pod *corev1.Pod, path string, facts podFacts) (string, error) {
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		if pod.Spec.ServiceAccountName == "" {
			return "default", nil // what the API server's admission sets
		}
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return facts.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return facts.hostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldRef fieldPath %q: allowed are metadata.name, metadata.namespace, metadata.uid, metadata.labels['KEY'], metadata.annotations['KEY'], spec.nodeName, spec.serviceAccountName, status.podIP, status.podIPs, status.hostIP, status.hostIPs", path)
}

// subscript parses field['key'] (or field["key"]).
func subscript(path, field string) (string, bool) {
	rest, ok := strings.CutPrefix(path, field+"[")
	if !ok || !strings.HasSuffix(rest, "]") || len(rest) < 3 {
		return "", false
	}
	rest = rest[:len(rest)-1]
	if q := rest[0]; (q == '\'' || q == '"') && rest[len(rest)-1] == q {
		return rest[1 : len(rest)-1], true
	}
	return "", false
}

func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// resourceField is a container's limit or request in units of the divisor
// (default 1), rounded up, as the kubelet renders it. A limit the container
// does not set is the node's capacity.
func resourceField(pod *corev1.Pod, self *corev1.Container, ref *corev1.ResourceFieldSelector, facts podFacts) (string, error) {
	c := self
	if ref.ContainerName != "" && (c == nil || c.Name != ref.ContainerName) {
		c = nil
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == ref.ContainerName {
				c = &pod.Spec.Containers[i]
			}
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: container %q is not in pod %s", ref.ContainerName, pod.Name)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	var list corev1.ResourceList
	switch kind {
	case "limits":
		list = c.Resources.Limits
	case "requests":
		list = c.Resources.Requests
	default:
		return "", fmt.Errorf("unsupported resourceFieldRef resource %q: allowed are limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory, requests.ephemeral-storage", ref.Resource)
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok && kind == "limits" {
		switch name {
		case "cpu":
			q = facts.nodeCPU
		case "memory":
			q = facts.nodeMemory
		}
	}
	switch name {
	case "cpu":
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	case "memory", "ephemeral-storage":
		return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
	}
	return "", fmt.Errorf("unsupported resourceFieldRef resource %q: allowed are limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory, requests.ephemeral-storage", ref.Resource)
}

// usesConfig reports whether the pod reads the ConfigMap or Secret (kind is
// either, in any case) named name: in env, envFrom or a volume.
func usesConfig(pod *corev1.Pod, kind, name string) bool {
	secret := strings.EqualFold(kind, "Secret")
	ref := func(cm, s string) bool {
		if secret {
			return s == name
		}
		return cm == name
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, f := range c.EnvFrom {
				if f.ConfigMapRef != nil && ref(f.ConfigMapRef.Name, "") || f.SecretRef != nil && ref("", f.SecretRef.Name) {
					return true
				}
			}
			for _, e := range c.Env {
				if f := e.ValueFrom; f != nil && (f.ConfigMapKeyRef != nil && ref(f.ConfigMapKeyRef.Name, "") || f.SecretKeyRef != nil && ref("", f.SecretKeyRef.Name)) {
					return true
				}
			}
		}
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil && ref(v.ConfigMap.Name, ""), v.Secret != nil && ref("", v.Secret.SecretName):
			return true
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil && ref(s.ConfigMap.Name, "") || s.Secret != nil && ref("", s.Secret.Name) {
					return true
				}
			}
		}
	}
	return false
}
