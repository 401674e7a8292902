package pvbinder

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Actor is the identity the binder appends as.
const Actor = "system:persistentvolume-binder"

// Claim is a PersistentVolumeClaim with its subject's version and the event
// that last changed it.
type Claim struct {
	PVC     *corev1.PersistentVolumeClaim
	Version uint64
	Cause   events.Event
}

// Volume is a PersistentVolume with its subject's version and last event.
type Volume struct {
	PV      *corev1.PersistentVolume
	Version uint64
	Cause   events.Event
	// Revoked: its node has been told to remove its directory.
	Revoked bool
}

// Pod is a pod that mounts claims.
type Pod struct {
	Namespace, Name string
	Node            string
	Claims          []string
	Deleting        bool
}

// Node is a registered node: its labels and local-path root.
type Node struct {
	Labels map[string]string
	Root   string
	Cause  events.Event
}

// State is everything the binder decides from.
type State struct {
	Claims  map[string]*Claim // namespace/name
	Volumes map[string]*Volume
	Classes map[string]*storagev1.StorageClass
	Pods    []Pod
	Nodes   map[string]Node
	// DeletedClasses are the StorageClasses that existed and were deleted.
	DeletedClasses map[string]bool
}

// Decide returns the appends that move claims and volumes towards bound (or
// reclaimed), at most one per subject, each guarded by the version it was
// decided from. What needs several appends on one subject (a volume's claimRef,
// then its phase) takes several rounds; every step is decided again from what
// the log holds, so a round cut short by a conflict or a crash converges. It is
// pure.
//
// A claim without a class gets the default class (Kubernetes' retroactive
// default). An unbound claim binds to a volume pre-bound to it, else to the
// smallest available volume that fits (ClaimFits); for a WaitForFirstConsumer
// class, only once a pod that mounts it is bound to a node, and only to a volume
// that node can reach. With no volume to bind and a class of the built-in
// local-path provisioner, the claim is annotated with its consumer's node
// (volume.kubernetes.io/selected-node), then a volume is created there: a
// directory under the node's local-path root, pinned to the node by node
// affinity, pre-bound to the claim. A bound claim whose volume is gone, or
// bound to another claim, is Lost.
//
// A volume whose claim is gone is Released. Under Delete, a volume the
// local-path provisioner created is deleted once no pod mounts the claim's
// name any more: its node is told first (a revoked event in its inbox) to
// remove the directory; a Delete volume of another source is Failed, since wake
// deletes no data it did not create.
func Decide(st *State) []reconcile.Action {
	d := &decider{st: st, touched: map[string]bool{}}
	d.defaultClassOnce()
	for _, key := range sortedKeys(st.Claims) {
		d.claim(st.Claims[key])
	}
	for _, name := range sortedKeys(st.Volumes) {
		d.volume(st.Volumes[name])
	}
	return d.out
}

type decider struct {
	st      *State
	touched map[string]bool // subjects with an action this round
	out     []reconcile.Action
}

func (d *decider) add(cause events.Event, kind, verb string, ref events.Ref, expected uint64, reason string, payload any) {
	if d.touched[ref.Subject()] {
		return
	}
	d.touched[ref.Subject()] = true
	k, _ := object.ByKind(kind)
	d.out = append(d.out, reconcile.NewAction(Actor, cause, object.EventType(k, verb), ref, expected, reason, payload))
}

func claimRef(pvc *corev1.PersistentVolumeClaim) events.Ref {
	return events.Ref{Kind: "PersistentVolumeClaim", Namespace: pvc.Namespace, Name: pvc.Name}
}

func volumeRef(name string) events.Ref { return events.Ref{Kind: "PersistentVolume", Name: name} }

func (d *decider) updateClaim(c *Claim, pvc *corev1.PersistentVolumeClaim, reason string) {
	raw, _ := json.Marshal(pvc)
	d.add(c.Cause, "PersistentVolumeClaim", object.Updated, claimRef(pvc), c.Version, reason, &object.Change{Object: raw})
}

func (d *decider) updateVolume(v *Volume, pv *corev1.PersistentVolume, reason string) {
	raw, _ := json.Marshal(pv)
	d.add(v.Cause, "PersistentVolume", object.Updated, volumeRef(pv.Name), v.Version, reason, &object.Change{Object: raw})
}

func (d *decider) claimStatus(c *Claim, status corev1.PersistentVolumeClaimStatus, reason string) {
	if equality.Semantic.DeepEqual(c.PVC.Status, status) {
		return
	}
	raw, _ := json.Marshal(status)
	d.add(c.Cause, "PersistentVolumeClaim", object.Status, claimRef(c.PVC), c.Version, reason, &object.StatusChange{Status: raw})
}

func (d *decider) volumeStatus(v *Volume, phase corev1.PersistentVolumePhase, message string) {
	status := corev1.PersistentVolumeStatus{Phase: phase, Message: message, LastPhaseTransitionTime: v.PV.Status.LastPhaseTransitionTime}
	if phase != v.PV.Status.Phase {
		t := metav1.NewTime(v.Cause.Time.UTC().Truncate(time.Second))
		status.LastPhaseTransitionTime = &t
	}
	if phase == corev1.VolumeFailed {
		status.Reason = "VolumeFailedDelete"
	}
	if equality.Semantic.DeepEqual(v.PV.Status, status) {
		return
	}
	raw, _ := json.Marshal(status)
	reason := string(phase)
	if message != "" {
		reason += ": " + message
	}
	d.add(v.Cause, "PersistentVolume", object.Status, volumeRef(v.PV.Name), v.Version, reason, &object.StatusChange{Status: raw})
}

// defaultClassOnce creates object.DefaultStorageClass once a node announces a
// local-path root, unless the class exists or existed (someone deleted it:
// it stays deleted).
func (d *decider) defaultClassOnce() {
	name := object.DefaultStorageClass
	if d.st.Classes[name] != nil || d.st.DeletedClasses[name] {
		return
	}
	var node string
	for _, n := range sortedKeys(d.st.Nodes) {
		if d.st.Nodes[n].Root != "" {
			node = n
			break
		}
	}
	if node == "" {
		return
	}
	wffc, del := storagev1.VolumeBindingWaitForFirstConsumer, corev1.PersistentVolumeReclaimDelete
	sc := &storagev1.StorageClass{
		TypeMeta: metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("storageclass-" + name),
			Annotations: map[string]string{object.DefaultClassAnnotation: "true"}},
		Provisioner: object.LocalPathProvisioner, ReclaimPolicy: &del, VolumeBindingMode: &wffc,
	}
	raw, _ := json.Marshal(sc)
	d.add(d.st.Nodes[node].Cause, "StorageClass", object.Created, events.Ref{Kind: "StorageClass", Name: name}, 0,
		"the built-in local-path StorageClass: node "+node+" can provision local volumes", &object.Change{Object: raw})
}

// defaultClass is the default StorageClass: the newest of those marked, then
// the first by name, as Kubernetes picks it ("" when none is marked).
func (d *decider) defaultClass() string {
	var best *storagev1.StorageClass
	for _, name := range sortedKeys(d.st.Classes) {
		sc := d.st.Classes[name]
		if object.IsDefaultClass(sc) && (best == nil || sc.CreationTimestamp.After(best.CreationTimestamp.Time)) {
			best = sc
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

func refersTo(ref *corev1.ObjectReference, pvc *corev1.PersistentVolumeClaim) bool {
	return ref != nil && ref.Namespace == pvc.Namespace && ref.Name == pvc.Name && (ref.UID == "" || ref.UID == pvc.UID)
}

func fullRef(pvc *corev1.PersistentVolumeClaim) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID}
}

func (d *decider) claim(c *Claim) {
	pvc := c.PVC
	if pvc.DeletionTimestamp != nil {
		return
	}
	if pvc.Spec.StorageClassName == nil {
		if def := d.defaultClass(); def != "" {
			next := pvc.DeepCopy()
			next.Spec.StorageClassName = &def
			d.updateClaim(c, next, "assigned the default StorageClass "+def)
		}
		return
	}
	if pvc.Spec.VolumeName != "" {
		d.boundClaim(c)
		return
	}
	class := d.st.Classes[object.ClaimClassName(pvc)]
	wffc := class != nil && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
	node := pvc.Annotations[object.SelectedNodeAnnotation]
	if wffc && node == "" {
		node = d.consumerNode(pvc)
	}
	candidate := d.preBound(pvc)
	if candidate == nil && (!wffc || node != "") {
		candidate = d.bestFit(pvc, wffc, node)
	}
	if candidate != nil {
		if pv := candidate.PV; pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID == "" {
			next := pv.DeepCopy()
			next.Spec.ClaimRef = fullRef(pvc)
			d.updateVolume(candidate, next, fmt.Sprintf("bound to claim %s/%s", pvc.Namespace, pvc.Name))
			return
		}
		next := pvc.DeepCopy()
		next.Spec.VolumeName = candidate.PV.Name
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, object.BindCompletedAnnotation, "yes")
		d.updateClaim(c, next, "bound to volume "+candidate.PV.Name)
		return
	}
	if class == nil || class.Provisioner != object.LocalPathProvisioner || !wffc || node == "" {
		return // waits: for a volume, a consumer, or a provisioner wake does not run
	}
	if pvc.Annotations[object.SelectedNodeAnnotation] == "" {
		next := pvc.DeepCopy()
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, object.SelectedNodeAnnotation, node)
		metav1.SetMetaDataAnnotation(&next.ObjectMeta, object.ProvisionerAnnotation, class.Provisioner)
		d.updateClaim(c, next, "selected node "+node+" for its first consumer")
		return
	}
	d.provision(c, class, node)
}

// boundClaim keeps a bound claim's status: Bound with its volume's capacity
// and access modes, or Lost.
func (d *decider) boundClaim(c *Claim) {
	pvc := c.PVC
	v := d.st.Volumes[pvc.Spec.VolumeName]
	lost := pvc.Status.DeepCopy()
	lost.Phase = corev1.ClaimLost
	switch {
	case v == nil:
		d.claimStatus(c, *lost, "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
		return
	case v.PV.Spec.ClaimRef == nil:
		next := v.PV.DeepCopy()
		next.Spec.ClaimRef = fullRef(pvc)
		d.updateVolume(v, next, fmt.Sprintf("bound to claim %s/%s", pvc.Namespace, pvc.Name))
	case !refersTo(v.PV.Spec.ClaimRef, pvc):
		d.claimStatus(c, *lost, "Two claims are bound to the same volume, this one is bound incorrectly")
		return
	}
	d.claimStatus(c, corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
		AccessModes: v.PV.Spec.AccessModes, Capacity: v.PV.Spec.Capacity}, "bound to volume "+v.PV.Name)
}

// consumerNode is the node of the first pod (by name) bound to a node that
// mounts the claim and is not being deleted.
func (d *decider) consumerNode(pvc *corev1.PersistentVolumeClaim) string {
	for _, p := range d.st.Pods {
		if p.Namespace != pvc.Namespace || p.Node == "" || p.Deleting {
			continue
		}
		for _, c := range p.Claims {
			if c == pvc.Name {
				return p.Node
			}
		}
	}
	return ""
}

func (d *decider) preBound(pvc *corev1.PersistentVolumeClaim) *Volume {
	for _, name := range sortedKeys(d.st.Volumes) {
		v := d.st.Volumes[name]
		if v.PV.DeletionTimestamp == nil && refersTo(v.PV.Spec.ClaimRef, pvc) && object.ClaimFits(pvc, v.PV) {
			return v
		}
	}
	return nil
}

// bestFit is the smallest available volume that fits the claim (and, for a
// WaitForFirstConsumer claim, that node can reach).
func (d *decider) bestFit(pvc *corev1.PersistentVolumeClaim, wffc bool, node string) *Volume {
	var best *Volume
	for _, name := range sortedKeys(d.st.Volumes) {
		v := d.st.Volumes[name]
		if v.PV.Spec.ClaimRef != nil || v.PV.DeletionTimestamp != nil || v.PV.Status.Phase == corev1.VolumeFailed || !object.ClaimFits(pvc, v.PV) {
			continue
		}
		if wffc {
			n, ok := d.st.Nodes[node]
			if !ok || !object.VolumeNodeMatches(v.PV, node, n.Labels) {
				continue
			}
		}
		if best == nil {
			best = v
			continue
		}
		have, cur := v.PV.Spec.Capacity[corev1.ResourceStorage], best.PV.Spec.Capacity[corev1.ResourceStorage]
		if have.Cmp(cur) < 0 {
			best = v
		}
	}
	return best
}

// provision creates the claim's local-path volume on node.
func (d *decider) provision(c *Claim, class *storagev1.StorageClass, node string) {
	pvc := c.PVC
	root := d.st.Nodes[node].Root
	if root == "" {
		return // the node has not said where its volumes live (an agent of an older build): wait
	}
	name := "pvc-" + string(pvc.UID)
	if _, exists := d.st.Volumes[name]; exists {
		return
	}
	policy := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		policy = *class.ReclaimPolicy
	}
	fs := corev1.PersistentVolumeFilesystem
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: pvc.UID + "-pv",
			Annotations: map[string]string{object.ProvisionedByAnnotation: class.Provisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: policy,
			StorageClassName:              class.Name,
			VolumeMode:                    &fs,
			ClaimRef:                      fullRef(pvc),
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: filepath.Join(root, object.LocalDirName(name, pvc.Namespace, pvc.Name)), Type: &dirOrCreate}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
	raw, _ := json.Marshal(pv)
	d.add(c.Cause, "PersistentVolume", object.Created, volumeRef(name), 0,
		fmt.Sprintf("provisioned for claim %s/%s on node %s", pvc.Namespace, pvc.Name, node), &object.Change{Object: raw})
}

// volume keeps a volume's phase and reclaims it once its claim is gone.
func (d *decider) volume(v *Volume) {
	pv := v.PV
	if pv.DeletionTimestamp != nil {
		return
	}
	ref := pv.Spec.ClaimRef
	if ref == nil {
		d.volumeStatus(v, corev1.VolumeAvailable, "")
		return
	}
	c := d.st.Claims[ref.Namespace+"/"+ref.Name]
	switch {
	case c != nil && (ref.UID == "" || ref.UID == c.PVC.UID):
		if c.PVC.Spec.VolumeName == pv.Name {
			d.volumeStatus(v, corev1.VolumeBound, "")
		} else {
			d.volumeStatus(v, corev1.VolumeAvailable, "")
		}
		return
	case c == nil && ref.UID == "":
		d.volumeStatus(v, corev1.VolumeAvailable, "") // pre-bound to a claim not yet created
		return
	}
	// Its claim is gone (or replaced by another of the name).
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		d.volumeStatus(v, corev1.VolumeReleased, "")
		return
	}
	if pv.Annotations[object.ProvisionedByAnnotation] != object.LocalPathProvisioner || pv.Spec.HostPath == nil {
		d.volumeStatus(v, corev1.VolumeFailed, "wake deletes only the volumes its local-path provisioner created; remove the data and delete the volume by hand")
		return
	}
	if d.mounted(ref.Namespace, ref.Name) {
		d.volumeStatus(v, corev1.VolumeReleased, "")
		return
	}
	if node := object.VolumeNode(pv); node != "" && !v.Revoked {
		d.add(v.Cause, "PersistentVolume", object.Revoked, events.Ref{Kind: "PersistentVolume", Name: pv.Name, Node: node}, 0,
			"reclaim policy Delete: remove the volume's directory", &object.VolumeRelease{UID: string(pv.UID), Path: pv.Spec.HostPath.Path})
		return
	}
	d.add(v.Cause, "PersistentVolume", object.Deleted, volumeRef(pv.Name), v.Version, "reclaim policy Delete: its claim is gone",
		&object.Deletion{UID: string(pv.UID)})
}

// mounted reports whether a pod still mounts the claim's name.
func (d *decider) mounted(ns, claim string) bool {
	for _, p := range d.st.Pods {
		if p.Namespace != ns {
			continue
		}
		for _, c := range p.Claims {
			if c == claim {
				return true
			}
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
