package object

import (
	"math"
	"path"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validatePodSpec checks a defaulted pod spec at p ("spec" of a Pod,
// "spec.template.spec" of a workload).
func validatePodSpec(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	volumes, errs := validateVolumes(p.Child("volumes"), spec.Volumes)
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), "a pod needs at least one container"))
	}
	names := map[string]bool{}
	errs = append(errs, validateContainers(p.Child("initContainers"), spec.InitContainers, true, volumes, names)...)
	errs = append(errs, validateContainers(p.Child("containers"), spec.Containers, false, volumes, names)...)
	errs = append(errs, oneOf(p.Child("restartPolicy"), spec.RestartPolicy, false,
		corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)...)
	errs = append(errs, oneOf(p.Child("dnsPolicy"), spec.DNSPolicy, false,
		corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone)...)
	if spec.DNSPolicy == corev1.DNSNone && spec.DNSConfig == nil {
		errs = append(errs, field.Required(p.Child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
	}
	if spec.TerminationGracePeriodSeconds != nil {
		errs = append(errs, nonNegative(p.Child("terminationGracePeriodSeconds"), *spec.TerminationGracePeriodSeconds)...)
	}
	if s := spec.ActiveDeadlineSeconds; s != nil && (*s < 1 || *s > math.MaxInt32) {
		errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *s, validation.InclusiveRangeError(1, math.MaxInt32)))
	}
	errs = append(errs, metavalidation.ValidateLabels(spec.NodeSelector, p.Child("nodeSelector"))...)
	errs = append(errs, validateTolerations(p.Child("tolerations"), spec.Tolerations)...)
	errs = append(errs, validateAffinity(p.Child("affinity"), spec.Affinity)...)
	for _, n := range []struct {
		name, value string
		check       func(string, bool) []string
	}{
		{"hostname", spec.Hostname, apivalidation.NameIsDNSLabel},
		{"subdomain", spec.Subdomain, apivalidation.NameIsDNSLabel},
		{"serviceAccountName", spec.ServiceAccountName, apivalidation.ValidateServiceAccountName},
		{"priorityClassName", spec.PriorityClassName, apivalidation.NameIsDNSSubdomain},
		{"schedulerName", spec.SchedulerName, apivalidation.NameIsDNSSubdomain},
	} {
		if n.value != "" {
			errs = append(errs, invalidEach(p.Child(n.name), n.value, n.check(n.value, false))...)
		}
	}
	if spec.Resources != nil {
		errs = append(errs, validateResources(p.Child("resources"), spec.Resources, podResourcePIDs)...)
	}
	for i, a := range spec.HostAliases {
		errs = append(errs, validation.IsValidIP(p.Child("hostAliases").Index(i).Child("ip"), a.IP)...)
	}
	return errs
}

// validateVolumes checks names (unique DNS labels) and that each volume has exactly
// one source, and returns the declared names for volumeMounts to refer to.
func validateVolumes(p *field.Path, volumes []corev1.Volume) (map[string]bool, field.ErrorList) {
	names := map[string]bool{}
	var errs field.ErrorList
	for i, v := range volumes {
		vp := p.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(vp.Child("name"), ""))
		case names[v.Name]:
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		default:
			errs = append(errs, invalidEach(vp.Child("name"), v.Name, validation.IsDNS1123Label(v.Name))...)
		}
		names[v.Name] = true
		errs = append(errs, validateVolumeSource(vp, &v.VolumeSource)...)
	}
	return names, errs
}

func validateVolumeSource(p *field.Path, s *corev1.VolumeSource) field.ErrorList {
	var errs field.ErrorList
	var sources []string
	for _, f := range jsonFieldsOf(reflect.TypeFor[corev1.VolumeSource]()) {
		if !reflect.ValueOf(s).Elem().FieldByIndex(f.index).IsNil() {
			sources = append(sources, f.name)
		}
	}
	switch {
	case len(sources) == 0:
		errs = append(errs, field.Required(p, "must specify a volume type"))
	case len(sources) > 1:
		errs = append(errs, field.Forbidden(p.Child(sources[1]), "may not specify more than 1 volume type (also has "+sources[0]+")"))
	}
	if hp := s.HostPath; hp != nil {
		if hp.Path == "" {
			errs = append(errs, field.Required(p.Child("hostPath", "path"), ""))
		}
		if hp.Type != nil {
			errs = append(errs, oneOf(p.Child("hostPath", "type"), *hp.Type, true, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory,
				corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev)...)
		}
	}
	if pvc := s.PersistentVolumeClaim; pvc != nil && pvc.ClaimName == "" {
		errs = append(errs, field.Required(p.Child("persistentVolumeClaim", "claimName"), ""))
	}
	if cm := s.ConfigMap; cm != nil {
		errs = append(errs, validateMode(p.Child("configMap", "defaultMode"), cm.DefaultMode)...)
		errs = append(errs, validateKeyToPaths(p.Child("configMap", "items"), cm.Items)...)
	}
	if sec := s.Secret; sec != nil {
		errs = append(errs, validateMode(p.Child("secret", "defaultMode"), sec.DefaultMode)...)
		errs = append(errs, validateKeyToPaths(p.Child("secret", "items"), sec.Items)...)
	}
	if d := s.DownwardAPI; d != nil {
		errs = append(errs, validateMode(p.Child("downwardAPI", "defaultMode"), d.DefaultMode)...)
	}
	if pr := s.Projected; pr != nil {
		errs = append(errs, validateMode(p.Child("projected", "defaultMode"), pr.DefaultMode)...)
	}
	return errs
}

func validateMode(p *field.Path, mode *int32) field.ErrorList {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		return field.ErrorList{field.Invalid(p, *mode, "must be a number between 0 and 0777 (octal), both inclusive")}
	}
	return nil
}

func validateKeyToPaths(p *field.Path, items []corev1.KeyToPath) field.ErrorList {
	var errs field.ErrorList
	for i, item := range items {
		ip := p.Index(i)
		if item.Key == "" {
			errs = append(errs, field.Required(ip.Child("key"), ""))
		}
		errs = append(errs, validateRelativePath(ip.Child("path"), item.Path, false)...)
		errs = append(errs, validateMode(ip.Child("mode"), item.Mode)...)
	}
	return errs
}

// validateRelativePath checks a path inside a volume: relative, without "..".
func validateRelativePath(p *field.Path, value string, optional bool) field.ErrorList {
	switch {
	case value == "" && optional:
		return nil
	case value == "":
		return field.ErrorList{field.Required(p, "")}
	case path.IsAbs(value):
		return field.ErrorList{field.Invalid(p, value, "must be a relative path")}
	case slices.Contains(strings.Split(value, "/"), ".."):
		return field.ErrorList{field.Invalid(p, value, "must not contain '..'")}
	}
	return nil
}

func validateTolerations(p *field.Path, tolerations []corev1.Toleration) field.ErrorList {
	var errs field.ErrorList
	for i, t := range tolerations {
		tp := p.Index(i)
		if t.Key != "" {
			errs = append(errs, metavalidation.ValidateLabelName(t.Key, tp.Child("key"))...)
		} else if t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(tp.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			errs = append(errs, invalidEach(tp.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(tp.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		case corev1.TolerationOpGt, corev1.TolerationOpLt:
			if !isInteger(t.Value) {
				errs = append(errs, field.Invalid(tp.Child("value"), t.Value, "must be an integer when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, field.NotSupported(tp.Child("operator"), t.Operator, []corev1.TolerationOperator{
				corev1.TolerationOpEqual, corev1.TolerationOpExists, corev1.TolerationOpGt, corev1.TolerationOpLt}))
		}
		errs = append(errs, oneOf(tp.Child("effect"), t.Effect, true, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)...)
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(tp.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
	}
	return errs
}

func validateAffinity(p *field.Path, a *corev1.Affinity) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	if na := a.NodeAffinity; na != nil {
		np := p.Child("nodeAffinity")
		if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			rp := np.Child("requiredDuringSchedulingIgnoredDuringExecution")
			if len(r.NodeSelectorTerms) == 0 {
				errs = append(errs, field.Required(rp.Child("nodeSelectorTerms"), "must have at least one node selector term"))
			}
			for i, term := range r.NodeSelectorTerms {
				errs = append(errs, validateNodeSelectorTerm(rp.Child("nodeSelectorTerms").Index(i), term)...)
			}
		}
		for i, pref := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			pp := np.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			errs = append(errs, validateWeight(pp.Child("weight"), pref.Weight)...)
			errs = append(errs, validateNodeSelectorTerm(pp.Child("preference"), pref.Preference)...)
		}
	}
	for _, t := range []struct {
		name string
		pa   *corev1.PodAffinity
	}{{"podAffinity", a.PodAffinity}, {"podAntiAffinity", (*corev1.PodAffinity)(a.PodAntiAffinity)}} {
		name, pa := t.name, t.pa
		if pa == nil {
			continue
		}
		for i, term := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			errs = append(errs, validatePodAffinityTerm(p.Child(name, "requiredDuringSchedulingIgnoredDuringExecution").Index(i), term)...)
		}
		for i, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			wp := p.Child(name, "preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			errs = append(errs, validateWeight(wp.Child("weight"), w.Weight)...)
			errs = append(errs, validatePodAffinityTerm(wp.Child("podAffinityTerm"), w.PodAffinityTerm)...)
		}
	}
	return errs
}

func validateWeight(p *field.Path, weight int32) field.ErrorList {
	if weight < 1 || weight > 100 {
		return field.ErrorList{field.Invalid(p, weight, "must be in the range 1-100")}
	}
	return nil
}

func validatePodAffinityTerm(p *field.Path, term corev1.PodAffinityTerm) field.ErrorList {
	errs := validateLabelSelector(p.Child("labelSelector"), term.LabelSelector)
	errs = append(errs, validateLabelSelector(p.Child("namespaceSelector"), term.NamespaceSelector)...)
	if term.TopologyKey == "" {
		return append(errs, field.Required(p.Child("topologyKey"), "can not be empty"))
	}
	return append(errs, metavalidation.ValidateLabelName(term.TopologyKey, p.Child("topologyKey"))...)
}

func validateNodeSelectorTerm(p *field.Path, term corev1.NodeSelectorTerm) field.ErrorList {
	var errs field.ErrorList
	for i, r := range term.MatchExpressions {
		rp := p.Child("matchExpressions").Index(i)
		errs = append(errs, metavalidation.ValidateLabelName(r.Key, rp.Child("key"))...)
		errs = append(errs, validateNodeSelectorValues(rp, r)...)
	}
	for i, r := range term.MatchFields {
		rp := p.Child("matchFields").Index(i)
		errs = append(errs, oneOf(rp.Child("key"), r.Key, false, "metadata.name")...)
		errs = append(errs, validateNodeSelectorValues(rp, r)...)
	}
	return errs
}

func validateNodeSelectorValues(p *field.Path, r corev1.NodeSelectorRequirement) field.ErrorList {
	vp := p.Child("values")
	switch r.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(r.Values) == 0 {
			return field.ErrorList{field.Required(vp, "must be specified when `operator` is 'In' or 'NotIn'")}
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(r.Values) > 0 {
			return field.ErrorList{field.Forbidden(vp, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")}
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 {
			return field.ErrorList{field.Required(vp, "must be specified single value when `operator` is 'Lt' or 'Gt'")}
		}
		if !isInteger(r.Values[0]) {
			return field.ErrorList{field.Invalid(vp.Index(0), r.Values[0], "must be an integer when `operator` is 'Lt' or 'Gt'")}
		}
	default:
		return field.ErrorList{field.NotSupported(p.Child("operator"), r.Operator, []corev1.NodeSelectorOperator{
			corev1.NodeSelectorOpDoesNotExist, corev1.NodeSelectorOpExists, corev1.NodeSelectorOpGt,
			corev1.NodeSelectorOpIn, corev1.NodeSelectorOpLt, corev1.NodeSelectorOpNotIn})}
	}
	return nil
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}
