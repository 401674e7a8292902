package object

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// Storage facts that the volume binder, the scheduler and the node agent share.

// LocalPathProvisioner is the provisioner of wake's built-in local directory
// volumes (StorageClass provisioner, and the PV annotation ProvisionedBy).
const LocalPathProvisioner = "wake.run/local-path"

// DefaultStorageClass is the StorageClass of the built-in provisioner that the
// volume binder creates once a node can provision, as k3s ships local-path: the
// default class, WaitForFirstConsumer, reclaim policy Delete.
const DefaultStorageClass = "local-path"

// LocalPathRootAnnotation on a Node names the directory under which its agent
// keeps the volumes the local-path provisioner creates for it.
const LocalPathRootAnnotation = "wake.run/local-path-root"

// Annotations Kubernetes' volume controllers use, with the same meaning.
const (
	// SelectedNodeAnnotation on a claim names the node of its first consumer,
	// where a WaitForFirstConsumer volume is provisioned.
	SelectedNodeAnnotation = "volume.kubernetes.io/selected-node"
	// ProvisionerAnnotation on a claim names who provisions its volume.
	ProvisionerAnnotation = "volume.kubernetes.io/storage-provisioner"
	// ProvisionedByAnnotation on a volume names the provisioner that created it.
	ProvisionedByAnnotation = "pv.kubernetes.io/provisioned-by"
	// BindCompletedAnnotation on a claim says the binder bound it.
	BindCompletedAnnotation = "pv.kubernetes.io/bind-completed"
	// DefaultClassAnnotation marks the default StorageClass.
	DefaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

// IsDefaultClass reports whether sc is annotated as the default StorageClass.
func IsDefaultClass(sc *storagev1.StorageClass) bool {
	return sc.Annotations[DefaultClassAnnotation] == "true" || sc.Annotations[betaDefaultClassAnnotation] == "true"
}

// ClaimClassName is the class a claim asks for ("" for none, the spec unset
// included).
func ClaimClassName(pvc *corev1.PersistentVolumeClaim) string {
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return ""
}

// VolumePath is the directory on its node that holds a volume's data: the
// hostPath or local path ("" for another source).
func VolumePath(pv *corev1.PersistentVolume) string {
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path
	}
	return ""
}

// ClaimFits reports whether volume pv can satisfy claim pvc, as Kubernetes'
// binder matches them: the same class, the same volume mode, every access mode
// the claim asks for, at least the storage it requests, and the labels its
// selector asks for. Who the volume is bound to is the caller's question.
func ClaimFits(pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) bool {
	if ClaimClassName(pvc) != pv.Spec.StorageClassName {
		return false
	}
	if mode(pvc.Spec.VolumeMode) != mode(pv.Spec.VolumeMode) {
		return false
	}
	for _, m := range pvc.Spec.AccessModes {
		found := false
		for _, have := range pv.Spec.AccessModes {
			found = found || have == m
		}
		if !found {
			return false
		}
	}
	want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	have := pv.Spec.Capacity[corev1.ResourceStorage]
	if have.Cmp(want) < 0 {
		return false
	}
	if pvc.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(pvc.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pv.Labels)) {
			return false
		}
	}
	return true
}

func mode(m *corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == nil {
		return corev1.PersistentVolumeFilesystem
	}
	return *m
}

// VolumeNodeMatches reports whether a volume's node affinity admits the node
// named name with the given labels (a volume without one admits every node).
func VolumeNodeMatches(pv *corev1.PersistentVolume, name string, nodeLabels map[string]string) bool {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return true
	}
	for _, t := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		if termMatches(t, name, nodeLabels) {
			return true
		}
	}
	return false
}

func termMatches(t corev1.NodeSelectorTerm, name string, nodeLabels map[string]string) bool {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return false
	}
	sel := labels.NewSelector()
	for _, r := range t.MatchExpressions {
		req, err := labels.NewRequirement(r.Key, selectionOp(r.Operator), r.Values)
		if err != nil {
			return false
		}
		sel = sel.Add(*req)
	}
	if !sel.Matches(labels.Set(nodeLabels)) {
		return false
	}
	for _, f := range t.MatchFields {
		if f.Key != "metadata.name" {
			return false
		}
		in := false
		for _, v := range f.Values {
			in = in || v == name
		}
		if in != (f.Operator == corev1.NodeSelectorOpIn) {
			return false
		}
	}
	return true
}

func selectionOp(op corev1.NodeSelectorOperator) selection.Operator {
	return map[corev1.NodeSelectorOperator]selection.Operator{
		corev1.NodeSelectorOpIn: selection.In, corev1.NodeSelectorOpNotIn: selection.NotIn,
		corev1.NodeSelectorOpExists: selection.Exists, corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
		corev1.NodeSelectorOpGt: selection.GreaterThan, corev1.NodeSelectorOpLt: selection.LessThan,
	}[op]
}

// VolumeNode is the one node a volume's node affinity names by hostname ("" when
// it names none or several): where a local volume's directory lives.
func VolumeNode(pv *corev1.PersistentVolume) string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil || len(pv.Spec.NodeAffinity.Required.NodeSelectorTerms) != 1 {
		return ""
	}
	for _, r := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions {
		if r.Key == corev1.LabelHostname && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
			return r.Values[0]
		}
	}
	return ""
}

// LocalDirName is the name of a provisioned volume's directory under its node's
// local-path root: <volume>_<namespace>_<claim>, as k3s names them. The volume's
// name comes first and holds no "_", so the directory names its volume.
func LocalDirName(pv, namespace, claim string) string {
	return pv + "_" + namespace + "_" + claim
}

// VolumeOfDir is the volume a LocalDirName names.
func VolumeOfDir(dir string) string {
	name, _, _ := strings.Cut(dir, "_")
	return name
}

// VolumeRelease is the payload of a volume's revoked event in its node's inbox:
// the volume was deleted by its Delete reclaim policy, and the node removes the
// directory at Path (only under its own local-path root).
type VolumeRelease struct {
	UID  string `json:"uid"`
	Path string `json:"path"`
}
