package printer

import (
	"testing"
	"time"

	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestStorageTables(t *testing.T) {
	class := "local-path"
	fs := corev1.PersistentVolumeFilesystem
	delete := corev1.PersistentVolumeReclaimDelete
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-6f1c", CreationTimestamp: ago(90 * time.Second)},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce},
			ClaimRef:    &corev1.ObjectReference{Namespace: "default", Name: "data"}, PersistentVolumeReclaimPolicy: delete,
			StorageClassName: class, VolumeMode: &fs,
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}
	free := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "manual", CreationTimestamp: ago(2 * time.Hour)},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("500Mi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
	bound := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default", CreationTimestamp: ago(2 * time.Minute)},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pvc-6f1c", StorageClassName: &class, VolumeMode: &fs,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("500Mi")}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}
	pending := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "logs", Namespace: "default", CreationTimestamp: ago(5 * time.Second)},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	sc := &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "local-path", CreationTimestamp: ago(3 * 24 * time.Hour), Annotations: map[string]string{object.DefaultClassAnnotation: "true"}},
		Provisioner: "wake.run/local-path", ReclaimPolicy: &delete, VolumeBindingMode: &wffc,
	}
	fast := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast", CreationTimestamp: ago(time.Minute)}, Provisioner: "example.com/fast"}
	tests := []struct {
		name string
		objs []runtime.Object
		opts Options
		want string
	}{
		{"pv", []runtime.Object{pv, free}, Options{}, text(
			"NAME       CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS      CLAIM          STORAGECLASS   VOLUMEATTRIBUTESCLASS   REASON   AGE",
			"pvc-6f1c   1Gi        RWO,RWX        Delete           Bound       default/data   local-path     <unset>                          90s",
			"manual     500Mi      ROX            Retain           Available                                 <unset>                          120m",
		)},
		{"pv wide", []runtime.Object{pv}, Options{Output: "wide"}, text(
			"NAME       CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS   CLAIM          STORAGECLASS   VOLUMEATTRIBUTESCLASS   REASON   AGE   VOLUMEMODE",
			"pvc-6f1c   1Gi        RWO,RWX        Delete           Bound    default/data   local-path     <unset>                          90s   Filesystem",
		)},
		{"pvc", []runtime.Object{bound, pending}, Options{}, text(
			"NAME   STATUS    VOLUME     CAPACITY   ACCESS MODES   STORAGECLASS   VOLUMEATTRIBUTESCLASS   AGE",
			"data   Bound     pvc-6f1c   1Gi        RWO            local-path     <unset>                 2m",
			"logs   Pending                                        local-path     <unset>                 5s",
		)},
		{"sc", []runtime.Object{sc, fast}, Options{}, text(
			"NAME                   PROVISIONER           RECLAIMPOLICY   VOLUMEBINDINGMODE      ALLOWVOLUMEEXPANSION   AGE",
			"local-path (default)   wake.run/local-path   Delete          WaitForFirstConsumer   false                  3d",
			"fast                   example.com/fast      Delete          Immediate              false                  60s",
		)},
		{"pv and pvc together, all namespaces", []runtime.Object{pv, bound}, Options{AllNamespaces: true}, text(
			"NAME                        CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS   CLAIM          STORAGECLASS   VOLUMEATTRIBUTESCLASS   REASON   AGE",
			"persistentvolume/pvc-6f1c   1Gi        RWO,RWX        Delete           Bound    default/data   local-path     <unset>                          90s",
			"",
			"NAMESPACE   NAME                         STATUS   VOLUME     CAPACITY   ACCESS MODES   STORAGECLASS   VOLUMEATTRIBUTESCLASS   AGE",
			"default     persistentvolumeclaim/data   Bound    pvc-6f1c   1Gi        RWO            local-path     <unset>                 2m",
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := print(t, tt.objs, tt.opts); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
