package object

import (
	corev1 "k8s.io/api/core/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateNode(n *corev1.Node) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if n.Spec.PodCIDR != "" {
		errs = append(errs, validation.IsValidCIDR(p.Child("podCIDR"), n.Spec.PodCIDR)...)
	}
	for i, cidr := range n.Spec.PodCIDRs {
		if i == 0 && n.Spec.PodCIDR != "" && cidr != n.Spec.PodCIDR {
			errs = append(errs, field.Invalid(p.Child("podCIDRs").Index(0), cidr, "must be the same as `podCIDR`"))
		}
		errs = append(errs, validation.IsValidCIDR(p.Child("podCIDRs").Index(i), cidr)...)
	}
	if len(n.Spec.PodCIDRs) > 2 {
		errs = append(errs, field.TooMany(p.Child("podCIDRs"), len(n.Spec.PodCIDRs), 2))
	}
	type keyEffect struct {
		key    string
		effect corev1.TaintEffect
	}
	seen := map[keyEffect]bool{}
	for i, t := range n.Spec.Taints {
		tp := p.Child("taints").Index(i)
		if t.Key == "" {
			errs = append(errs, field.Required(tp.Child("key"), ""))
		} else {
			errs = append(errs, metavalidation.ValidateLabelName(t.Key, tp.Child("key"))...)
		}
		errs = append(errs, invalidEach(tp.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		errs = append(errs, oneOf(tp.Child("effect"), t.Effect, false,
			corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)...)
		if seen[keyEffect{t.Key, t.Effect}] {
			errs = append(errs, field.Duplicate(tp, "taints must be unique by key and effect pair"))
		}
		seen[keyEffect{t.Key, t.Effect}] = true
	}
	return errs
}
