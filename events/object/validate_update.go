package object

import (
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateUpdate checks the transition old -> obj of two objects of the same kind
// and refuses, naming the field, what Kubernetes makes immutable: the name and
// namespace; the selector of a Deployment or ReplicaSet; every Pod spec field but
// container images, activeDeadlineSeconds (which may only shrink),
// terminationGracePeriodSeconds, and tolerations (which may only be added to); a
// Service's cluster IPs once set, unless its type changes to or from ExternalName;
// the data of an immutable ConfigMap or Secret, and immutable itself once true; a
// Secret's type; a claim's spec but the volumeName and storageClassName the
// binder fills in once; a volume's source, mode and node affinity; a
// StorageClass's provisioner, parameters and policies. It checks only the transition: obj itself must pass Validate.
func ValidateUpdate(old, obj Object) field.ErrorList {
	if reflect.TypeOf(old) != reflect.TypeOf(obj) {
		return field.ErrorList{field.Invalid(field.NewPath("kind"), obj.GetObjectKind().GroupVersionKind().Kind, "may not change")}
	}
	errs := apivalidation.ValidateImmutableField(obj.GetName(), old.GetName(), field.NewPath("metadata", "name"))
	errs = append(errs, apivalidation.ValidateImmutableField(obj.GetNamespace(), old.GetNamespace(), field.NewPath("metadata", "namespace"))...)
	selector := field.NewPath("spec", "selector")
	switch o := obj.(type) {
	case *appsv1.Deployment:
		errs = append(errs, apivalidation.ValidateImmutableField(o.Spec.Selector, old.(*appsv1.Deployment).Spec.Selector, selector)...)
	case *appsv1.ReplicaSet:
		errs = append(errs, apivalidation.ValidateImmutableField(o.Spec.Selector, old.(*appsv1.ReplicaSet).Spec.Selector, selector)...)
	case *corev1.Pod:
		errs = append(errs, validatePodUpdate(&old.(*corev1.Pod).Spec, &o.Spec)...)
	case *corev1.Service:
		errs = append(errs, validateServiceUpdate(&old.(*corev1.Service).Spec, &o.Spec)...)
	case *corev1.ConfigMap:
		prev := old.(*corev1.ConfigMap)
		errs = append(errs, validateImmutableData(prev.Immutable, o.Immutable,
			changed("data", prev.Data, o.Data), changed("binaryData", prev.BinaryData, o.BinaryData))...)
	case *corev1.Secret:
		prev := old.(*corev1.Secret)
		errs = append(errs, validateImmutableData(prev.Immutable, o.Immutable, changed("data", prev.Data, o.Data))...)
		errs = append(errs, apivalidation.ValidateImmutableField(o.Type, prev.Type, field.NewPath("type"))...)
	case *corev1.PersistentVolumeClaim:
		errs = append(errs, validateClaimUpdate(&old.(*corev1.PersistentVolumeClaim).Spec, &o.Spec)...)
	case *corev1.PersistentVolume:
		errs = append(errs, validateVolumeUpdate(&old.(*corev1.PersistentVolume).Spec, &o.Spec)...)
	case *storagev1.StorageClass:
		errs = append(errs, validateStorageClassUpdate(old.(*storagev1.StorageClass), o)...)
	}
	return errs
}

const immutableWhenSet = "field is immutable when `immutable` is set"

// validateImmutableData refuses, when old immutable was true, turning it off and
// changing the named fields ("" for a field that did not change).
func validateImmutableData(oldImmutable, immutable *bool, changedFields ...string) field.ErrorList {
	if oldImmutable == nil || !*oldImmutable {
		return nil
	}
	var errs field.ErrorList
	if immutable == nil || !*immutable {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSet))
	}
	for _, name := range changedFields {
		if name != "" {
			errs = append(errs, field.Forbidden(field.NewPath(name), immutableWhenSet))
		}
	}
	return errs
}

// changed returns name if a and b differ, "" otherwise.
func changed(name string, a, b any) string {
	if equality.Semantic.DeepEqual(a, b) {
		return ""
	}
	return name
}

// podUpdateDetail is Kubernetes' own wording, so searches for it find answers.
const podUpdateDetail = "pod updates may not change fields other than `spec.containers[*].image`, " +
	"`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) " +
	"or `spec.terminationGracePeriodSeconds`"

func validatePodUpdate(old, spec *corev1.PodSpec) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if prev := old.ActiveDeadlineSeconds; prev != nil {
		switch next := spec.ActiveDeadlineSeconds; {
		case next == nil:
			errs = append(errs, field.Forbidden(p.Child("activeDeadlineSeconds"), "may not be removed once set"))
		case *next > *prev:
			errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *next, fmt.Sprintf("must be less than or equal to the previous value, %d", *prev)))
		}
	}
	for _, t := range old.Tolerations {
		if !hasToleration(spec.Tolerations, t) {
			errs = append(errs, field.Forbidden(p.Child("tolerations"), "existing toleration can not be modified except its tolerationSeconds"))
			break
		}
	}
	// Compare everything else: the old spec with the mutable fields taken from the new.
	allowed := old.DeepCopy()
	allowed.ActiveDeadlineSeconds = spec.ActiveDeadlineSeconds
	allowed.Tolerations = spec.Tolerations
	allowed.TerminationGracePeriodSeconds = spec.TerminationGracePeriodSeconds
	for _, pair := range [][2][]corev1.Container{{allowed.Containers, spec.Containers}, {allowed.InitContainers, spec.InitContainers}} {
		for i := range min(len(pair[0]), len(pair[1])) {
			pair[0][i].Image = pair[1][i].Image
		}
	}
	for _, changed := range changedFields(reflect.ValueOf(allowed).Elem(), reflect.ValueOf(spec).Elem(), p) {
		errs = append(errs, field.Forbidden(changed, podUpdateDetail))
	}
	return errs
}

// hasToleration reports whether want is among tolerations, whose tolerationSeconds
// may differ.
func hasToleration(tolerations []corev1.Toleration, want corev1.Toleration) bool {
	for _, t := range tolerations {
		t.TolerationSeconds = want.TolerationSeconds
		if equality.Semantic.DeepEqual(t, want) {
			return true
		}
	}
	return false
}

// changedFields returns the paths where a and b (values of one type) differ: the
// deepest differing struct field, or a whole list whose length changed, or a whole
// map or leaf value.
func changedFields(a, b reflect.Value, p *field.Path) []*field.Path {
	if equality.Semantic.DeepEqual(a.Interface(), b.Interface()) {
		return nil
	}
	switch {
	case a.Kind() == reflect.Pointer && !a.IsNil() && !b.IsNil():
		return changedFields(a.Elem(), b.Elem(), p)
	case a.Kind() == reflect.Struct && !isLeafType(a.Type()):
		var out []*field.Path
		for _, f := range jsonFieldsOf(a.Type()) {
			out = append(out, changedFields(a.FieldByIndex(f.index), b.FieldByIndex(f.index), p.Child(f.name))...)
		}
		return out
	case a.Kind() == reflect.Slice && a.Len() == b.Len() && !isLeafType(a.Type()):
		var out []*field.Path
		for i := range a.Len() {
			out = append(out, changedFields(a.Index(i), b.Index(i), p.Index(i))...)
		}
		return out
	}
	return []*field.Path{p}
}

func validateServiceUpdate(old, spec *corev1.ServiceSpec) field.ErrorList {
	if old.Type == corev1.ServiceTypeExternalName || spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	p := field.NewPath("spec")
	var errs field.ErrorList
	if old.ClusterIP != "" && spec.ClusterIP != old.ClusterIP {
		errs = append(errs, field.Invalid(p.Child("clusterIP"), spec.ClusterIP, "field is immutable once set"))
	}
	if len(old.ClusterIPs) > 0 && (len(spec.ClusterIPs) == 0 || spec.ClusterIPs[0] != old.ClusterIPs[0]) {
		errs = append(errs, field.Invalid(p.Child("clusterIPs"), spec.ClusterIPs, "the primary cluster IP is immutable once set"))
	}
	return errs
}
