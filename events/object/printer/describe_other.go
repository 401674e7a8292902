package printer

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// volumes mirrors kubectl's describeVolumes for the common volume sources.
func (d describer) volumes(volumes []corev1.Volume, space string) {
	w := d.w
	if len(volumes) == 0 {
		w.write(level0, "%sVolumes:\t<none>\n", space)
		return
	}
	w.write(level0, "%sVolumes:\n", space)
	nameIndent := ""
	if space != "" {
		nameIndent = " "
	}
	for _, v := range volumes {
		w.write(level1, "%s%s:\n", nameIndent, v.Name)
		src := v.VolumeSource
		switch {
		case src.HostPath != nil:
			hostPathType := "<none>"
			if src.HostPath.Type != nil {
				hostPathType = string(*src.HostPath.Type)
			}
			w.write(level2, "Type:\tHostPath (bare host directory volume)\n")
			w.write(level2, "Path:\t%s\n", src.HostPath.Path)
			w.write(level2, "HostPathType:\t%s\n", hostPathType)
		case src.EmptyDir != nil:
			sizeLimit := "<unset>"
			if l := src.EmptyDir.SizeLimit; l != nil && l.Cmp(resource.Quantity{}) > 0 {
				sizeLimit = l.String()
			}
			w.write(level2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n")
			w.write(level2, "Medium:\t%s\n", src.EmptyDir.Medium)
			w.write(level2, "SizeLimit:\t%s\n", sizeLimit)
		case src.Secret != nil:
			w.write(level2, "Type:\tSecret (a volume populated by a Secret)\n")
			w.write(level2, "SecretName:\t%s\n", src.Secret.SecretName)
			w.write(level2, "Optional:\t%t\n", src.Secret.Optional != nil && *src.Secret.Optional)
		case src.ConfigMap != nil:
			w.write(level2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n")
			w.write(level2, "Name:\t%s\n", src.ConfigMap.Name)
			w.write(level2, "Optional:\t%t\n", src.ConfigMap.Optional != nil && *src.ConfigMap.Optional)
		case src.PersistentVolumeClaim != nil:
			w.write(level2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n")
			w.write(level2, "ClaimName:\t%s\n", src.PersistentVolumeClaim.ClaimName)
			w.write(level2, "ReadOnly:\t%t\n", src.PersistentVolumeClaim.ReadOnly)
		case src.DownwardAPI != nil:
			w.write(level2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n")
			w.write(level2, "Items:\n")
			for _, item := range src.DownwardAPI.Items {
				if item.FieldRef != nil {
					w.write(level3, "%s -> %s\n", item.FieldRef.FieldPath, item.Path)
				}
				if item.ResourceFieldRef != nil {
					w.write(level3, "%s -> %s\n", item.ResourceFieldRef.Resource, item.Path)
				}
			}
		case src.Projected != nil:
			w.write(level2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n")
			for _, s := range src.Projected.Sources {
				switch {
				case s.Secret != nil:
					w.write(level2, "SecretName:\t%s\n", s.Secret.Name)
					w.write(level2, "Optional:\t%t\n", s.Secret.Optional != nil && *s.Secret.Optional)
				case s.DownwardAPI != nil:
					w.write(level2, "DownwardAPI:\ttrue\n")
				case s.ConfigMap != nil:
					w.write(level2, "ConfigMapName:\t%s\n", s.ConfigMap.Name)
					w.write(level2, "Optional:\t%t\n", s.ConfigMap.Optional != nil && *s.ConfigMap.Optional)
				case s.ServiceAccountToken != nil && s.ServiceAccountToken.ExpirationSeconds != nil:
					w.write(level2, "TokenExpirationSeconds:\t%d\n", *s.ServiceAccountToken.ExpirationSeconds)
				}
			}
		case src.NFS != nil:
			w.write(level2, "Type:\tNFS (an NFS mount that lasts the lifetime of a pod)\n")
			w.write(level2, "Server:\t%s\n", src.NFS.Server)
			w.write(level2, "Path:\t%s\n", src.NFS.Path)
			w.write(level2, "ReadOnly:\t%t\n", src.NFS.ReadOnly)
		default:
			w.write(level1, "<unknown>\n")
		}
	}
}

// tolerations mirrors kubectl's printPodTolerationsMultiline.
func (d describer) tolerations(indent, title string, tolerations []corev1.Toleration) {
	w := d.w
	w.write(level0, "%s%s:\t", indent, title)
	if len(tolerations) == 0 {
		w.write(level0, "<none>\n")
		return
	}
	sorted := append([]corev1.Toleration(nil), tolerations...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	for i, t := range sorted {
		if i != 0 {
			w.write(level0, "%s\t", indent)
		}
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		if t.Effect != "" {
			s += ":" + string(t.Effect)
		}
		if t.Operator == corev1.TolerationOpExists && t.Value == "" {
			if t.Key != "" || t.Effect != "" {
				s += " op=Exists"
			} else {
				s += "op=Exists"
			}
		}
		if t.TolerationSeconds != nil {
			s += fmt.Sprintf(" for %ds", *t.TolerationSeconds)
		}
		w.write(level0, "%s\n", s)
	}
}

// podQOS is the pod's QoS class: status.qosClass, or computed from the
// containers' requests and limits like the kubelet does.
func podQOS(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	return object.PodQOS(pod)
}

func (d describer) configMap(cm *corev1.ConfigMap) {
	w := d.w
	w.write(level0, "Name:\t%s\n", cm.Name)
	w.write(level0, "Namespace:\t%s\n", cm.Namespace)
	d.labels("Labels", cm.Labels)
	d.annotations("Annotations", cm.Annotations)
	w.write(level0, "\nData\n====\n")
	for _, k := range sortedKeys(cm.Data) {
		w.write(level0, "%s:\n----\n", k)
		w.write(level0, "%s\n", cm.Data[k])
		w.write(level0, "\n")
	}
	w.write(level0, "\nBinaryData\n====\n")
	for _, k := range sortedKeys(cm.BinaryData) {
		w.write(level0, "%s: %d bytes\n", k, len(cm.BinaryData[k]))
	}
	w.write(level0, "\n")
}

func (d describer) secret(s *corev1.Secret) {
	w := d.w
	w.write(level0, "Name:\t%s\n", s.Name)
	w.write(level0, "Namespace:\t%s\n", s.Namespace)
	d.labels("Labels", s.Labels)
	d.annotations("Annotations", s.Annotations)
	w.write(level0, "\nType:\t%s\n", secretType(s))
	w.write(level0, "\nData\n====\n")
	sizes := secretKeys(s)
	for _, k := range sortedKeys(sizes) {
		w.write(level0, "%s:\t%d bytes\n", k, sizes[k])
	}
}

func (d describer) namespace(ns *corev1.Namespace) {
	w := d.w
	w.write(level0, "Name:\t%s\n", ns.Name)
	d.labels("Labels", ns.Labels)
	d.annotations("Annotations", ns.Annotations)
	w.write(level0, "Status:\t%s\n", namespacePhase(ns))
	if len(ns.Status.Conditions) > 0 {
		w.write(level0, "Conditions:\n")
		w.write(level1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n")
		w.write(level1, "----\t------\t------------------\t------\t-------\n")
		for _, c := range ns.Status.Conditions {
			w.write(level1, "%s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, timestamp(c.LastTransitionTime.Time), c.Reason, c.Message)
		}
	}
}

func (d describer) node(node *corev1.Node) {
	w := d.w
	w.write(level0, "Name:\t%s\n", node.Name)
	w.write(level0, "Roles:\t%s\n", orNone(strings.Join(nodeRoles(node), ",")))
	d.labels("Labels", node.Labels)
	d.annotations("Annotations", node.Annotations)
	w.write(level0, "CreationTimestamp:\t%s\n", timestamp(node.CreationTimestamp.Time))
	w.write(level0, "Taints:\t")
	if len(node.Spec.Taints) == 0 {
		w.write(level0, "<none>\n")
	}
	taints := append([]corev1.Taint(nil), node.Spec.Taints...)
	sort.SliceStable(taints, func(i, j int) bool {
		return string(taints[i].Effect)+","+taints[i].Key < string(taints[j].Effect)+","+taints[j].Key
	})
	for i := range taints {
		if i != 0 {
			w.write(level0, "\t")
		}
		w.write(level0, "%s\n", taints[i].ToString())
	}
	w.write(level0, "Unschedulable:\t%t\n", node.Spec.Unschedulable)
	if len(node.Status.Conditions) > 0 {
		w.write(level0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
		w.write(level1, "----\t------\t-----------------\t------------------\t------\t-------\n")
		for _, c := range node.Status.Conditions {
			w.write(level1, "%s \t%s \t%s \t%s \t%s \t%s\n", c.Type, c.Status,
				timestamp(c.LastHeartbeatTime.Time), timestamp(c.LastTransitionTime.Time), c.Reason, c.Message)
		}
	}
	w.write(level0, "Addresses:\n")
	for _, a := range node.Status.Addresses {
		w.write(level1, "%s:\t%s\n", a.Type, a.Address)
	}
	for _, rl := range []struct {
		title string
		list  corev1.ResourceList
	}{{"Capacity", node.Status.Capacity}, {"Allocatable", node.Status.Allocatable}} {
		if len(rl.list) == 0 {
			continue
		}
		w.write(level0, "%s:\n", rl.title)
		for _, name := range sortedKeys(resourceMap(rl.list)) {
			q := rl.list[corev1.ResourceName(name)]
			w.write(level1, "%s:\t%s\n", name, q.String())
		}
	}
	info := node.Status.NodeInfo
	w.write(level0, "System Info:\n")
	for _, f := range [][2]string{
		{"Machine ID", info.MachineID}, {"System UUID", info.SystemUUID}, {"Boot ID", info.BootID},
		{"Kernel Version", info.KernelVersion}, {"OS Image", info.OSImage}, {"Operating System", info.OperatingSystem},
		{"Architecture", info.Architecture}, {"Container Runtime Version", info.ContainerRuntimeVersion},
		{"Kubelet Version", info.KubeletVersion},
	} {
		w.write(level1, "%s:\t%s\n", f[0], f[1])
	}
	if node.Spec.PodCIDR != "" {
		w.write(level0, "PodCIDR:\t%s\n", node.Spec.PodCIDR)
	}
	if len(node.Spec.PodCIDRs) > 0 {
		w.write(level0, "PodCIDRs:\t%s\n", strings.Join(node.Spec.PodCIDRs, ","))
	}
	if node.Spec.ProviderID != "" {
		w.write(level0, "ProviderID:\t%s\n", node.Spec.ProviderID)
	}
	if d.rel.Pods != nil {
		d.nodeResources(node)
	}
}

// generic describes any other object: metadata, then every top-level field
// but apiVersion, kind and metadata (spec, status, data...) as YAML.
func (d describer) generic(obj runtime.Object) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return fmt.Errorf("cannot describe %T: %w", obj, err)
	}
	w := d.w
	w.write(level0, "Name:\t%s\n", acc.GetName())
	w.write(level0, "Namespace:\t%s\n", acc.GetNamespace())
	d.labels("Labels", acc.GetLabels())
	d.annotations("Annotations", acc.GetAnnotations())
	w.write(level0, "CreationTimestamp:\t%s\n", timestamp(acc.GetCreationTimestamp().Time))
	gvk := kindOf(obj)
	if gvk.Kind != "" {
		w.write(level0, "API Version:\t%s\n", gvk.GroupVersion().String())
		w.write(level0, "Kind:\t%s\n", gvk.Kind)
	}
	if gvk.Kind == "" {
		// toGeneric needs a kind; the fields below do not.
		gvk.Kind = "Unknown"
		obj = obj.DeepCopyObject()
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	doc, err := toGeneric(obj)
	if err != nil {
		return err
	}
	fields, _ := doc.(map[string]interface{})
	for _, k := range sortedKeys(fields) {
		if k == "apiVersion" || k == "kind" || k == "metadata" || isEmpty(fields[k]) {
			continue
		}
		data, err := yaml.Marshal(fields[k])
		if err != nil {
			return err
		}
		w.write(level0, "%s:\n", smartLabel(k))
		var b strings.Builder
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			b.WriteString("  " + line + "\n")
		}
		w.raw(b.String())
	}
	return nil
}

// isEmpty reports whether a generic JSON value carries nothing to show.
func isEmpty(v interface{}) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]interface{}:
		return len(t) == 0
	case []interface{}:
		return len(t) == 0
	}
	return false
}

// smartLabel turns a camelCase field name into words: "spec" -> "Spec",
// "roleRef" -> "Role Ref".
func smartLabel(field string) string {
	var b strings.Builder
	for i, r := range field {
		switch {
		case i == 0:
			r = unicode.ToUpper(r)
		case unicode.IsUpper(r):
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
