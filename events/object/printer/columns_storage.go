package printer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The storage kinds' columns, as kubectl v1.32 prints them
// (pkg/printers/internalversion/printers.go).

const betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

var persistentVolumeTable = tableKind{
	columns: []column{
		{name: "Name"}, {name: "Capacity"}, {name: "Access Modes"}, {name: "Reclaim Policy"}, {name: "Status"},
		{name: "Claim"}, {name: "StorageClass"}, {name: "VolumeAttributesClass"}, {name: "Reason"}, {name: "Age"},
		{name: "VolumeMode", wide: true},
	},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		pv, ok := obj.(*corev1.PersistentVolume)
		if !ok {
			return nil, fmt.Errorf("expected *v1.PersistentVolume, got %T", obj)
		}
		claim := ""
		if c := pv.Spec.ClaimRef; c != nil {
			claim = c.Namespace + "/" + c.Name
		}
		storage := pv.Spec.Capacity[corev1.ResourceStorage]
		phase := string(pv.Status.Phase)
		if pv.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		class := pv.Spec.StorageClassName
		if a, ok := pv.Annotations[betaStorageClassAnnotation]; ok {
			class = a
		}
		return []string{pv.Name, storage.String(), AccessModes(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
			phase, claim, class, orUnset(pv.Spec.VolumeAttributesClassName), pv.Status.Reason,
			Age(pv.CreationTimestamp.Time, ctx.now), volumeMode(pv.Spec.VolumeMode)}, nil
	},
}

var persistentVolumeClaimTable = tableKind{
	columns: []column{
		{name: "Name"}, {name: "Status"}, {name: "Volume"}, {name: "Capacity"}, {name: "Access Modes"},
		{name: "StorageClass"}, {name: "VolumeAttributesClass"}, {name: "Age"}, {name: "VolumeMode", wide: true},
	},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		pvc, ok := obj.(*corev1.PersistentVolumeClaim)
		if !ok {
			return nil, fmt.Errorf("expected *v1.PersistentVolumeClaim, got %T", obj)
		}
		phase := string(pvc.Status.Phase)
		if pvc.DeletionTimestamp != nil {
			phase = "Terminating"
		}
		capacity, modes := "", ""
		if pvc.Spec.VolumeName != "" {
			storage := pvc.Status.Capacity[corev1.ResourceStorage]
			capacity, modes = storage.String(), AccessModes(pvc.Status.AccessModes)
		}
		return []string{pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, ClaimClass(pvc),
			orUnset(pvc.Spec.VolumeAttributesClassName), Age(pvc.CreationTimestamp.Time, ctx.now), volumeMode(pvc.Spec.VolumeMode)}, nil
	},
}

var storageClassTable = tableKind{
	columns: []column{
		{name: "Name"}, {name: "Provisioner"}, {name: "ReclaimPolicy"}, {name: "VolumeBindingMode"},
		{name: "AllowVolumeExpansion"}, {name: "Age"},
	},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		sc, ok := obj.(*storagev1.StorageClass)
		if !ok {
			return nil, fmt.Errorf("expected *v1.StorageClass, got %T", obj)
		}
		name := sc.Name
		if object.IsDefaultClass(sc) {
			name += " (default)"
		}
		reclaim := string(corev1.PersistentVolumeReclaimDelete)
		if sc.ReclaimPolicy != nil {
			reclaim = string(*sc.ReclaimPolicy)
		}
		mode := string(storagev1.VolumeBindingImmediate)
		if sc.VolumeBindingMode != nil {
			mode = string(*sc.VolumeBindingMode)
		}
		expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
		return []string{name, sc.Provisioner, reclaim, mode, strconv.FormatBool(expand), Age(sc.CreationTimestamp.Time, ctx.now)}, nil
	},
}

// ClaimClass is the claim's StorageClass as kubectl shows it: the beta
// annotation, else spec.storageClassName.
func ClaimClass(pvc *corev1.PersistentVolumeClaim) string {
	if a, ok := pvc.Annotations[betaStorageClassAnnotation]; ok {
		return a
	}
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return ""
}

// AccessModes abbreviates access modes as kubectl does: RWO,ROX,RWX,RWOP in that
// order, each once.
func AccessModes(modes []corev1.PersistentVolumeAccessMode) string {
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"}} {
		for _, have := range modes {
			if have == m.mode {
				out = append(out, m.short)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

func orUnset(s *string) string {
	if s == nil || *s == "" {
		return "<unset>"
	}
	return *s
}

func volumeMode(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}
