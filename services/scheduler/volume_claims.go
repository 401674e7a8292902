package scheduler

import (
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// VolumeClaims places a pod that mounts PersistentVolumeClaims as Kubernetes'
// VolumeBinding plugin does. A claim that does not exist or is being deleted, or
// an unbound claim of a class that binds immediately, holds the pod Pending on
// every node, naming the claim. A bound claim admits only the nodes its
// volume's node affinity names; an unbound WaitForFirstConsumer claim admits
// every node when wake's local-path provisioner makes its volume there, else
// only nodes that reach an available volume that fits it.
type VolumeClaims struct{}

// Name implements FilterPlugin.
func (VolumeClaims) Name() string { return "VolumeClaims" }

// Filter implements FilterPlugin.
func (VolumeClaims) Filter(pod *PodInfo, node *NodeInfo) *Status {
	v := pod.volumes
	if v == nil {
		return pod.missingClaim
	}
	if v.status != nil {
		return v.status
	}
	n := node.Node()
	for _, pv := range v.bound {
		if !object.VolumeNodeMatches(pv, n.Name, n.Labels) {
			return newStatus("VolumeClaims", "node(s) had volume node affinity conflict")
		}
	}
	for _, candidates := range v.unbound {
		found := false
		for _, pv := range candidates {
			found = found || object.VolumeNodeMatches(pv, n.Name, n.Labels)
		}
		if !found {
			return newStatus("VolumeClaims", "node(s) didn't find available persistent volumes to bind")
		}
	}
	return nil
}

// volumeVerdict is what VolumeClaims needs of a pod's claims, resolved against
// the claims, volumes and classes the scheduler knows.
type volumeVerdict struct {
	status  *Status                      // the same rejection on every node
	bound   []*corev1.PersistentVolume   // volumes of bound claims
	unbound [][]*corev1.PersistentVolume // per unbound claim that needs an existing volume: those that fit
}

// Storage is the claims, volumes and classes the scheduler resolves a pod's
// claims against.
type Storage struct {
	Claims  map[string]*corev1.PersistentVolumeClaim // namespace/name
	Volumes map[string]*corev1.PersistentVolume
	Classes map[string]*storagev1.StorageClass
}

// WithVolumes returns a copy of pod whose VolumeClaims verdict is resolved
// against st.
func (p *PodInfo) WithVolumes(st *Storage) *PodInfo {
	out := *p
	out.volumes = st.verdict(p.Pod)
	return &out
}

func (st *Storage) verdict(pod *corev1.Pod) *volumeVerdict {
	v := &volumeVerdict{}
	for _, vol := range pod.Spec.Volumes {
		name := ""
		switch {
		case vol.PersistentVolumeClaim != nil:
			name = vol.PersistentVolumeClaim.ClaimName
		case vol.Ephemeral != nil:
			name = pod.Name + "-" + vol.Name
		default:
			continue
		}
		pvc := st.Claims[pod.Namespace+"/"+name]
		switch {
		case pvc == nil:
			v.status = newStatus("VolumeClaims", fmt.Sprintf("persistentvolumeclaim %q not found", name))
			return v
		case pvc.DeletionTimestamp != nil:
			v.status = newStatus("VolumeClaims", fmt.Sprintf("persistentvolumeclaim %q is being deleted", name))
			return v
		case pvc.Spec.VolumeName != "":
			pv := st.Volumes[pvc.Spec.VolumeName]
			if pv == nil {
				v.status = newStatus("VolumeClaims", fmt.Sprintf("persistentvolume %q not found", pvc.Spec.VolumeName))
				return v
			}
			v.bound = append(v.bound, pv)
			continue
		}
		class := st.Classes[object.ClaimClassName(pvc)]
		if pvc.Spec.StorageClassName == nil || class == nil || class.VolumeBindingMode == nil ||
			*class.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
			v.status = newStatus("VolumeClaims", "pod has unbound immediate PersistentVolumeClaims")
			return v
		}
		if class.Provisioner == object.LocalPathProvisioner {
			continue // provisioned on whichever node the pod goes to
		}
		var fits []*corev1.PersistentVolume
		for _, pv := range st.Volumes {
			if (pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Name == pvc.Name && pv.Spec.ClaimRef.Namespace == pvc.Namespace) &&
				object.ClaimFits(pvc, pv) {
				fits = append(fits, pv)
			}
		}
		v.unbound = append(v.unbound, fits)
	}
	return v
}

// missingClaimStatus is the rejection of the pod's first volume whose claim does
// not exist, in Kubernetes' words (`persistentvolumeclaim "data" not found`), or
// nil when it mounts no claim: the verdict of a pod resolved against no claims.
func missingClaimStatus(pod *corev1.Pod) *Status {
	return (&Storage{}).verdict(pod).status
}

// refreshStorage updates a claim, volume or class from the projection and
// decides the parked pods again: one of them may mount it.
func (s *Service) refreshStorage(ref events.Ref, st *object.Stored) {
	key := ref.Name
	if ref.Namespace != "" {
		key = ref.Namespace + "/" + ref.Name
	}
	switch ref.Kind {
	case "PersistentVolumeClaim":
		if st == nil {
			delete(s.storage.Claims, key)
		} else {
			s.storage.Claims[key] = st.Object.(*corev1.PersistentVolumeClaim)
		}
	case "PersistentVolume":
		if st == nil {
			delete(s.storage.Volumes, key)
		} else {
			s.storage.Volumes[key] = st.Object.(*corev1.PersistentVolume)
		}
	case "StorageClass":
		if st == nil {
			delete(s.storage.Classes, key)
		} else {
			s.storage.Classes[key] = st.Object.(*storagev1.StorageClass)
		}
	default:
		return
	}
	s.unpark()
}
