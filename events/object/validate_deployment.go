package object

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	p := field.NewPath("spec")
	spec := &d.Spec
	errs := validateReplicated(p, "deployment", spec.Replicas, spec.MinReadySeconds, spec.Selector, &spec.Template)
	errs = append(errs, validateStrategy(p.Child("strategy"), &spec.Strategy)...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(p.Child("revisionHistoryLimit"), int64(*spec.RevisionHistoryLimit))...)
	}
	if s := spec.ProgressDeadlineSeconds; s != nil {
		errs = append(errs, nonNegative(p.Child("progressDeadlineSeconds"), int64(*s))...)
		if *s <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(p.Child("progressDeadlineSeconds"), *s, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	spec := &rs.Spec
	return validateReplicated(field.NewPath("spec"), "replicaset", spec.Replicas, spec.MinReadySeconds, spec.Selector, &spec.Template)
}

// validateReplicated checks what Deployments and ReplicaSets share: replicas, a
// non-empty selector that matches the template's labels, and a pod template whose
// pods are restarted forever.
func validateReplicated(p *field.Path, kind string, replicas *int32, minReadySeconds int32,
	selector *metav1.LabelSelector, template *corev1.PodTemplateSpec) field.ErrorList {
	var errs field.ErrorList
	if replicas != nil {
		errs = append(errs, nonNegative(p.Child("replicas"), int64(*replicas))...)
	}
	errs = append(errs, nonNegative(p.Child("minReadySeconds"), int64(minReadySeconds))...)
	tp := p.Child("template")
	switch {
	case selector == nil:
		errs = append(errs, field.Required(p.Child("selector"), ""))
	case len(selector.MatchLabels)+len(selector.MatchExpressions) == 0:
		errs = append(errs, field.Invalid(p.Child("selector"), selector, "empty selector is invalid for "+kind))
	default:
		errs = append(errs, validateLabelSelector(p.Child("selector"), selector)...)
		if s, err := metav1.LabelSelectorAsSelector(selector); err == nil && !s.Matches(labels.Set(template.Labels)) {
			errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), template.Labels, "`selector` does not match template `labels`"))
		}
	}
	errs = append(errs, metavalidation.ValidateLabels(template.Labels, tp.Child("metadata", "labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(template.Annotations, tp.Child("metadata", "annotations"))...)
	errs = append(errs, validatePodSpec(&template.Spec, tp.Child("spec"))...)
	if rp := template.Spec.RestartPolicy; rp != corev1.RestartPolicyAlways && rp != "" {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), rp, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "may not be set in a "+kind+"'s pod template: its pods run until replaced"))
	}
	return errs
}

func validateStrategy(p *field.Path, s *appsv1.DeploymentStrategy) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return validateRollingUpdate(p.Child("rollingUpdate"), s.RollingUpdate)
		}
	default:
		return field.ErrorList{field.NotSupported(p.Child("type"), s.Type,
			[]appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
	return nil
}

func validateRollingUpdate(p *field.Path, ru *appsv1.RollingUpdateDeployment) field.ErrorList {
	var errs field.ErrorList
	var unavailable, surge int
	if ru.MaxUnavailable != nil {
		var e field.ErrorList
		unavailable, e = intOrPercent(p.Child("maxUnavailable"), *ru.MaxUnavailable)
		errs = append(errs, e...)
		if ru.MaxUnavailable.Type == intstr.String && unavailable > 100 {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), ru.MaxUnavailable, "must not be greater than 100%"))
		}
	}
	if ru.MaxSurge != nil {
		var e field.ErrorList
		surge, e = intOrPercent(p.Child("maxSurge"), *ru.MaxSurge)
		errs = append(errs, e...)
	}
	if len(errs) == 0 && unavailable == 0 && surge == 0 {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
	}
	return errs
}

// intOrPercent returns the number of a non-negative integer or percentage ("25%").
func intOrPercent(p *field.Path, v intstr.IntOrString) (int, field.ErrorList) {
	if v.Type == intstr.Int {
		return int(v.IntVal), nonNegative(p, int64(v.IntVal))
	}
	if len(validation.IsValidPercent(v.StrVal)) > 0 {
		return 0, field.ErrorList{field.Invalid(p, v.StrVal, "must be an integer or a percentage such as '25%'")}
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return n, nil
}
