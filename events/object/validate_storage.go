package object

import (
	"fmt"
	"reflect"
	"sort"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The storage kinds: PersistentVolume, PersistentVolumeClaim, StorageClass,
// validated as the Kubernetes API server does (pkg/apis/core/validation,
// pkg/apis/storage/validation), for the volume sources wake mounts: hostPath and
// local. Other sources are refused by the field list (fields.go).

var accessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod}

func validateAccessModes(p *field.Path, modes []corev1.PersistentVolumeAccessMode) field.ErrorList {
	var errs field.ErrorList
	if len(modes) == 0 {
		return field.ErrorList{field.Required(p, "at least 1 access mode is required")}
	}
	for i, m := range modes {
		errs = append(errs, oneOf(p.Index(i), m, false, accessModes...)...)
		if m == corev1.ReadWriteOncePod && len(modes) > 1 {
			errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
		}
	}
	return errs
}

// validateStorage checks a resource list that must hold exactly one positive
// "storage" quantity.
func validateStorage(p *field.Path, list corev1.ResourceList) field.ErrorList {
	q, ok := list[corev1.ResourceStorage]
	if !ok {
		return field.ErrorList{field.Required(p.Key(string(corev1.ResourceStorage)), "")}
	}
	var errs field.ErrorList
	if len(list) > 1 {
		var keys []string
		for k := range list {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		errs = append(errs, field.NotSupported(p, keys, []string{string(corev1.ResourceStorage)}))
	}
	if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(p.Key(string(corev1.ResourceStorage)), q.String(), "must be greater than zero"))
	}
	return errs
}

func validateClassName(p *field.Path, name string) field.ErrorList {
	if name == "" {
		return nil
	}
	return invalidEach(p, name, apivalidation.NameIsDNSSubdomain(name, false))
}

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	p := field.NewPath("spec")
	s := &pv.Spec
	errs := validateAccessModes(p.Child("accessModes"), s.AccessModes)
	if len(s.Capacity) == 0 {
		errs = append(errs, field.Required(p.Child("capacity"), ""))
	} else {
		errs = append(errs, validateStorage(p.Child("capacity"), s.Capacity)...)
	}
	errs = append(errs, oneOf(p.Child("persistentVolumeReclaimPolicy"), s.PersistentVolumeReclaimPolicy, true,
		corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain)...)
	errs = append(errs, validateClassName(p.Child("storageClassName"), s.StorageClassName)...)
	if s.VolumeMode != nil && *s.VolumeMode != corev1.PersistentVolumeFilesystem {
		errs = append(errs, field.NotSupported(p.Child("volumeMode"), *s.VolumeMode, []string{string(corev1.PersistentVolumeFilesystem)}))
	}
	sources := 0
	if hp := s.HostPath; hp != nil {
		sources++
		errs = append(errs, validateAbsolute(p.Child("hostPath", "path"), hp.Path)...)
		if hp.Type != nil {
			errs = append(errs, oneOf(p.Child("hostPath", "type"), *hp.Type, true, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory)...)
		}
	}
	if l := s.Local; l != nil {
		sources++
		errs = append(errs, validateAbsolute(p.Child("local", "path"), l.Path)...)
		if s.NodeAffinity == nil || s.NodeAffinity.Required == nil {
			errs = append(errs, field.Required(p.Child("nodeAffinity"), "Local volumes require node affinity"))
		}
	}
	switch {
	case sources == 0:
		errs = append(errs, field.Required(p, "must specify a volume type: hostPath or local (the sources wake mounts)"))
	case sources > 1:
		errs = append(errs, field.Forbidden(p.Child("local"), "may not specify more than 1 volume type"))
	}
	if na := s.NodeAffinity; na != nil {
		if na.Required == nil {
			errs = append(errs, field.Required(p.Child("nodeAffinity", "required"), "must specify required node constraints"))
		} else {
			errs = append(errs, validateNodeSelector(p.Child("nodeAffinity", "required"), na.Required)...)
		}
	}
	if c := s.ClaimRef; c != nil && c.Name == "" {
		errs = append(errs, field.Required(p.Child("claimRef", "name"), ""))
	}
	return errs
}

func validateAbsolute(p *field.Path, path string) field.ErrorList {
	switch {
	case path == "":
		return field.ErrorList{field.Required(p, "")}
	case path[0] != '/':
		return field.ErrorList{field.Invalid(p, path, "must be an absolute path")}
	}
	return nil
}

// validateNodeSelector checks a required node selector's terms.
func validateNodeSelector(p *field.Path, sel *corev1.NodeSelector) field.ErrorList {
	if len(sel.NodeSelectorTerms) == 0 {
		return field.ErrorList{field.Required(p.Child("nodeSelectorTerms"), "must have at least one node selector term")}
	}
	var errs field.ErrorList
	for i, t := range sel.NodeSelectorTerms {
		tp := p.Child("nodeSelectorTerms").Index(i)
		for j, r := range t.MatchExpressions {
			rp := tp.Child("matchExpressions").Index(j)
			errs = append(errs, invalidEach(rp.Child("key"), r.Key, validation.IsQualifiedName(r.Key))...)
			errs = append(errs, oneOf(rp.Child("operator"), r.Operator, false, corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn,
				corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist, corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt)...)
		}
	}
	return errs
}

func validatePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	p := field.NewPath("spec")
	s := &pvc.Spec
	errs := validateAccessModes(p.Child("accessModes"), s.AccessModes)
	errs = append(errs, validateStorage(p.Child("resources", "requests"), s.Resources.Requests)...)
	if s.StorageClassName != nil {
		errs = append(errs, validateClassName(p.Child("storageClassName"), *s.StorageClassName)...)
	}
	if s.VolumeMode != nil && *s.VolumeMode != corev1.PersistentVolumeFilesystem {
		errs = append(errs, field.NotSupported(p.Child("volumeMode"), *s.VolumeMode, []string{string(corev1.PersistentVolumeFilesystem)}))
	}
	if s.Selector != nil {
		errs = append(errs, validateLabelSelector(p.Child("selector"), s.Selector)...)
	}
	return errs
}

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(field.NewPath("provisioner"), ""))
	} else {
		errs = append(errs, invalidEach(field.NewPath("provisioner"), sc.Provisioner, validation.IsQualifiedName(sc.Provisioner))...)
	}
	if sc.ReclaimPolicy != nil {
		errs = append(errs, oneOf(field.NewPath("reclaimPolicy"), *sc.ReclaimPolicy, false,
			corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain)...)
	}
	if sc.VolumeBindingMode != nil {
		errs = append(errs, oneOf(field.NewPath("volumeBindingMode"), *sc.VolumeBindingMode, false,
			storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer)...)
	}
	if len(sc.Parameters) > 512 {
		errs = append(errs, field.TooMany(field.NewPath("parameters"), len(sc.Parameters), 512))
	}
	return errs
}

// pvcUpdateDetail is Kubernetes' own wording.
const pvcUpdateDetail = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"

// validateClaimUpdate refuses changes to a claim's spec, except what the binder
// fills in once: volumeName (when it was empty) and storageClassName (when it was
// unset: the default class, assigned retroactively as Kubernetes does).
func validateClaimUpdate(old, spec *corev1.PersistentVolumeClaimSpec) field.ErrorList {
	allowed := old.DeepCopy()
	if allowed.VolumeName == "" {
		allowed.VolumeName = spec.VolumeName
	}
	if allowed.StorageClassName == nil {
		allowed.StorageClassName = spec.StorageClassName
	}
	if !equalSpecs(allowed, spec) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), pvcUpdateDetail)}
	}
	return nil
}

func equalSpecs(a, b any) bool {
	return len(changedFields(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), field.NewPath("spec"))) == 0
}

// validateVolumeUpdate refuses changing a volume's source, mode and node
// affinity once set, as Kubernetes does.
func validateVolumeUpdate(old, spec *corev1.PersistentVolumeSpec) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if !equalSpecs(&old.PersistentVolumeSource, &spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(p.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(spec.VolumeMode, old.VolumeMode, p.Child("volumeMode"))...)
	if old.NodeAffinity != nil {
		errs = append(errs, apivalidation.ValidateImmutableField(spec.NodeAffinity, old.NodeAffinity, p.Child("nodeAffinity"))...)
	}
	return errs
}

// validateStorageClassUpdate refuses what Kubernetes makes immutable.
func validateStorageClassUpdate(old, sc *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name     string
		old, new any
	}{
		{"parameters", old.Parameters, sc.Parameters},
		{"provisioner", old.Provisioner, sc.Provisioner},
		{"reclaimPolicy", old.ReclaimPolicy, sc.ReclaimPolicy},
		{"volumeBindingMode", old.VolumeBindingMode, sc.VolumeBindingMode},
	} {
		if changed(f.name, f.old, f.new) != "" {
			errs = append(errs, field.Forbidden(field.NewPath(f.name), fmt.Sprintf("updates to %s are forbidden.", f.name)))
		}
	}
	return errs
}

// defaultStorage sets the API server's defaults of the storage kinds.
func defaultStorage(obj Object) {
	switch o := obj.(type) {
	case *corev1.PersistentVolume:
		setIfEmpty(&o.Spec.PersistentVolumeReclaimPolicy, corev1.PersistentVolumeReclaimRetain)
		if o.Spec.VolumeMode == nil {
			o.Spec.VolumeMode = ptrTo(corev1.PersistentVolumeFilesystem)
		}
		if o.Spec.HostPath != nil && o.Spec.HostPath.Type == nil {
			o.Spec.HostPath.Type = ptrTo(corev1.HostPathUnset)
		}
	case *corev1.PersistentVolumeClaim:
		if o.Spec.VolumeMode == nil {
			o.Spec.VolumeMode = ptrTo(corev1.PersistentVolumeFilesystem)
		}
	case *storagev1.StorageClass:
		if o.ReclaimPolicy == nil {
			o.ReclaimPolicy = ptrTo(corev1.PersistentVolumeReclaimDelete)
		}
		if o.VolumeBindingMode == nil {
			o.VolumeBindingMode = ptrTo(storagev1.VolumeBindingImmediate)
		}
	}
}
