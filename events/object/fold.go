package object

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/wake-run/wake/events"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Verbs of object events. The event type is "<kind token>.<verb>", e.g.
// "deployment.created".
const (
	Created  = "created"  // payload Change; the subject held no live object
	Updated  = "updated"  // payload Change; replaces metadata and spec, keeps status
	Status   = "status"   // payload StatusChange; replaces status only
	Deleting = "deleting" // payload Deletion; sets deletionTimestamp (graceful deletion)
	Deleted  = "deleted"  // payload Deletion; the object is gone

	// Pods only, on the pod's subject.
	Bound         = "bound"         // payload Binding; the scheduler placed the pod
	Unschedulable = "unschedulable" // payload Binding (Message); the pod fits nowhere yet

	// Pods only, on the pod's facet in its node's inbox (Ref.Node set).
	Assigned = "assigned" // payload Assignment: the pod as the node must run it
	Stopped  = "stopped"  // payload Deletion (UID: which pod of the name; may be absent); the node stopped the pod and released it
	// Revoked: payload Deletion (UID, GracePeriodSeconds); the pod was deleted
	// without its node stopping it first (deleted outright): the node stops it
	// within the grace period and reports it stopped. The dispatcher appends it.
	Revoked = "revoked"
	// FailedMount: payload StatusChange; the node's status report of a pod it
	// holds Pending because it cannot mount the pod's volumes (the event's
	// reason says which, in the kubelet's words). It folds as a status.
	FailedMount = "failed-mount"
	// Occurrences the node reports of a pod's containers, as the kubelet's
	// events (payload Occurrence; the event's reason is the kubelet's message).
	// They change nothing of the pod: describe shows them, counted.
	Unhealthy           = "unhealthy"              // a probe failed: "Readiness probe failed: ..."
	Killing             = "killing"                // a probe's failure restarts the container
	FailedPostStartHook = "failed-post-start-hook" // the postStart hook failed: the container is killed
	FailedPreStopHook   = "failed-pre-stop-hook"   // the preStop hook failed: the container is stopped anyway
)

// IsOccurrence says whether verb is one of the node's occurrence reports
// (Unhealthy, Killing, FailedPostStartHook, FailedPreStopHook).
func IsOccurrence(verb string) bool {
	switch verb {
	case Unhealthy, Killing, FailedPostStartHook, FailedPreStopHook:
		return true
	}
	return false
}

// Occurrence is the payload of a node's occurrence report. A repeated
// occurrence (the same container, reason and message) is reported again at
// most every so often with its Count so far, as Kubernetes' event series:
// describe shows the newest report of a series, "(x5 over 40s)".
type Occurrence struct {
	Container string `json:"container,omitempty"`
	// Count is how many times it happened since FirstTime (1: once).
	Count     int32     `json:"count"`
	FirstTime time.Time `json:"firstTime"`
}

// Assignment is the payload of a pod's assigned event in its node's inbox: the
// whole pod at Version, the version of the pod's own subject it was copied from.
// A pod with a deletionTimestamp tells the node to stop it and report stopped.
type Assignment struct {
	Pod     json.RawMessage `json:"pod"`
	Version uint64          `json:"version"`
}

// Binding is the payload of bound and unschedulable events.
type Binding struct {
	Node    string `json:"node,omitempty"`
	Message string `json:"message,omitempty"`
}

// EventType returns "<kind token>.<verb>".
func EventType(k *Kind, verb string) string { return k.Token() + "." + verb }

// Change is the payload of created and updated events.
type Change struct {
	// Object is the whole desired object: metadata and spec (status is ignored).
	Object json.RawMessage `json:"object"`
	// Applied is what the person declared, when the change came from apply: the
	// base of the next three-way merge. Absent: the previous one is kept.
	Applied json.RawMessage `json:"applied,omitempty"`
}

// StatusChange is the payload of status events.
type StatusChange struct {
	Status json.RawMessage `json:"status"`
}

// Deletion is the payload of deleting and deleted events.
type Deletion struct {
	UID                string `json:"uid,omitempty"`
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
	Propagation        string `json:"propagation,omitempty"`
}

// Stored is an object as a projection keeps it.
type Stored struct {
	Object      Object
	LastApplied json.RawMessage
	// Version is the sequence of the latest event on the object's own subject: the
	// version a writer of that subject names. It differs from the resourceVersion
	// when the newest change came through a node facet (a pod's status).
	Version uint64
}

// ErrFold is wrapped by every error of Fold: the event cannot apply to the state.
var ErrFold = errors.New("cannot fold")

// Fold applies one object event to the previous state of its object (nil when the
// object does not exist) and returns the next state (nil when deleted). It is pure:
// the time, uid and version it records all come from the event.
//
// Fields the system owns survive created/updated events: status, uid,
// creationTimestamp, deletionTimestamp, a pod's spec.nodeName, a service's
// allocated clusterIP(s) and nodePorts. Invalid objects and illegal transitions
// (immutable fields) are errors, so a malformed writer cannot corrupt readers.
func Fold(prev *Stored, ev *events.Event) (*Stored, error) {
	k, ok := ByKind(ev.Object.Kind)
	if !ok {
		return nil, fmt.Errorf("%w: unknown kind %q", ErrFold, ev.Object.Kind)
	}
	verb := ev.Type[min(len(k.Token())+1, len(ev.Type)):]
	if ev.Type != EventType(k, verb) {
		return nil, fmt.Errorf("%w: event type %q does not belong to kind %s", ErrFold, ev.Type, k.Kind)
	}
	next, err := foldVerb(k, verb, prev, ev)
	if err == nil && next != nil {
		next.Version = prev.versionOr(0)
		if ev.Object.Node == "" {
			next.Version = ev.Seq
		}
	}
	return next, err
}

func (s *Stored) versionOr(v uint64) uint64 {
	if s == nil {
		return v
	}
	return s.Version
}

func foldVerb(k *Kind, verb string, prev *Stored, ev *events.Event) (*Stored, error) {
	if ev.Object.Node != "" {
		switch verb {
		case Status:
		case FailedMount:
			verb = Status
		case Assigned, Stopped:
			if prev == nil {
				return nil, fmt.Errorf("%w: %s of %s, which does not exist", ErrFold, verb, ev.Object)
			}
			return prev, nil // a copy for the node, or its acknowledgement: no change
		case Revoked:
			return prev, nil // the pod is gone, or a later pod holds the name: no change
		case Unhealthy, Killing, FailedPostStartHook, FailedPreStopHook:
			return prev, nil // a report for describe: no change
		default:
			return nil, fmt.Errorf("%w: %s is not a node facet event", ErrFold, ev.Type)
		}
	}
	switch verb {
	case Created:
		if prev != nil {
			return nil, fmt.Errorf("%w: %s created but it already exists", ErrFold, ev.Object)
		}
		return foldChange(k, nil, ev)
	case Updated:
		if prev == nil {
			return nil, fmt.Errorf("%w: %s updated but it does not exist", ErrFold, ev.Object)
		}
		return foldChange(k, prev, ev)
	case Status:
		if prev == nil {
			return nil, fmt.Errorf("%w: status of %s but it does not exist", ErrFold, ev.Object)
		}
		return foldStatus(k, prev, ev)
	case Deleting:
		if prev == nil {
			return nil, fmt.Errorf("%w: %s deleting but it does not exist", ErrFold, ev.Object)
		}
		return foldDeleting(k, prev, ev)
	case Deleted:
		return nil, nil
	case Bound, Unschedulable:
		if prev == nil {
			return nil, fmt.Errorf("%w: %s %s but it does not exist", ErrFold, ev.Object, verb)
		}
		return foldBinding(verb, prev, ev)
	}
	return nil, fmt.Errorf("%w: unknown event type %q", ErrFold, ev.Type)
}

// foldBinding records the scheduler's decision: the node (bound), or why the pod
// fits nowhere yet (unschedulable), in spec.nodeName and the PodScheduled condition.
func foldBinding(verb string, prev *Stored, ev *events.Event) (*Stored, error) {
	pod, ok := prev.Object.DeepCopyObject().(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("%w: %s applies to pods only", ErrFold, ev.Type)
	}
	var b Binding
	if err := json.Unmarshal(ev.Payload, &b); err != nil {
		return nil, fmt.Errorf("%w: %s payload: %v", ErrFold, ev.Type, err)
	}
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
		LastTransitionTime: metav1.NewTime(ev.Time.UTC().Truncate(1e9))}
	if verb == Bound {
		if b.Node == "" || (pod.Spec.NodeName != "" && pod.Spec.NodeName != b.Node) {
			return nil, fmt.Errorf("%w: bind %s to %q: already on %q", ErrFold, ev.Object, b.Node, pod.Spec.NodeName)
		}
		pod.Spec.NodeName = b.Node
	} else {
		if pod.Spec.NodeName != "" {
			return nil, fmt.Errorf("%w: %s is bound to %s", ErrFold, ev.Object, pod.Spec.NodeName)
		}
		cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, corev1.PodReasonUnschedulable, b.Message
	}
	setPodCondition(&pod.Status, cond)
	pod.ResourceVersion = strconv.FormatUint(ev.Seq, 10)
	return &Stored{Object: pod, LastApplied: prev.LastApplied}, nil
}

func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			if st.Conditions[i].Status == c.Status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

// preparedChange is a change's payload decoded ahead of the fold (see Prepare).
type preparedChange struct {
	obj     Object
	applied json.RawMessage
	err     error
}

// Prepare decodes the payload of a created or updated event into the kind's type,
// for Fold to use; a projection runner calls it on other goroutines ahead of the
// fold (projections.Projection.Prepare). It is pure; what it cannot decode, Fold
// rejects.
func Prepare(ev *events.Event) {
	k, ok := ByKind(ev.Object.Kind)
	if !ok || ev.Object.Node != "" {
		return
	}
	if verb := ev.Type[min(len(k.Token())+1, len(ev.Type)):]; verb != Created && verb != Updated {
		return
	}
	ev.Decoded = decodeChange(k, ev)
}

// decodeChange decodes a Change payload in one pass straight into the kind's type
// (a Change would copy the object's bytes to decode them again).
func decodeChange(k *Kind, ev *events.Event) *preparedChange {
	obj := k.New()
	ch := struct {
		Object  Object          `json:"object"`
		Applied json.RawMessage `json:"applied,omitempty"`
	}{Object: obj}
	if err := json.Unmarshal(ev.Payload, &ch); err != nil {
		return &preparedChange{err: fmt.Errorf("%w: %s payload: want {object, applied}: %v", ErrFold, ev.Type, err)}
	}
	if obj.GetName() == "" && obj.GetUID() == "" && obj.GetNamespace() == "" {
		return &preparedChange{err: fmt.Errorf("%w: %s payload: want {object, applied}: no object", ErrFold, ev.Type)}
	}
	return &preparedChange{obj: obj, applied: ch.Applied}
}

func foldChange(k *Kind, prev *Stored, ev *events.Event) (*Stored, error) {
	pc, prepared := ev.Decoded.(*preparedChange)
	if !prepared {
		pc = decodeChange(k, ev)
	}
	if pc.err != nil {
		return nil, pc.err
	}
	obj := pc.obj
	if prepared {
		obj = obj.DeepCopyObject().(Object) // the prepared decoding stays as it was: a refold reuses it
	}
	ch := struct{ Applied json.RawMessage }{pc.applied}
	obj.GetObjectKind().SetGroupVersionKind(schemaGVK(k))
	if obj.GetName() != ev.Object.Name || obj.GetNamespace() != ev.Object.Namespace {
		return nil, fmt.Errorf("%w: payload names %s/%s, event is about %s", ErrFold, obj.GetNamespace(), obj.GetName(), ev.Object)
	}
	next := &Stored{Object: obj, LastApplied: ch.Applied}
	version := strconv.FormatUint(ev.Seq, 10)
	if prev == nil {
		if obj.GetUID() == "" {
			return nil, fmt.Errorf("%w: created %s without a uid", ErrFold, ev.Object)
		}
		obj.SetCreationTimestamp(metav1.NewTime(ev.Time.UTC().Truncate(1e9)))
		obj.SetDeletionTimestamp(nil)
		obj.SetGeneration(0)
		if k.HasSpec {
			obj.SetGeneration(1)
		}
		setStatus(obj, nil)
		initStatus(obj)
	} else {
		old := prev.Object
		obj.SetUID(old.GetUID())
		obj.SetCreationTimestamp(old.GetCreationTimestamp())
		obj.SetDeletionTimestamp(old.GetDeletionTimestamp())
		obj.SetDeletionGracePeriodSeconds(old.GetDeletionGracePeriodSeconds())
		keepSystemSpec(old, obj)
		setStatus(obj, old)
		obj.SetGeneration(old.GetGeneration())
		if k.HasSpec && !equality.Semantic.DeepEqual(specOf(old), specOf(obj)) {
			obj.SetGeneration(old.GetGeneration() + 1)
		}
		if len(ch.Applied) == 0 {
			next.LastApplied = prev.LastApplied
		}
		if errs := ValidateUpdate(old, obj); len(errs) > 0 {
			return nil, fmt.Errorf("%w: %s: %v", ErrFold, ev.Object, errs.ToAggregate())
		}
	}
	obj.SetResourceVersion(version)
	obj.SetManagedFields(nil)
	if errs := Validate(obj); len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s: %v", ErrFold, ev.Object, errs.ToAggregate())
	}
	return next, nil
}

func foldStatus(k *Kind, prev *Stored, ev *events.Event) (*Stored, error) {
	var sc StatusChange
	if err := json.Unmarshal(ev.Payload, &sc); err != nil || len(sc.Status) == 0 {
		return nil, fmt.Errorf("%w: %s payload: want {status}: %v", ErrFold, ev.Type, err)
	}
	obj := prev.Object.DeepCopyObject().(Object)
	sf := statusField(obj)
	if !sf.IsValid() {
		return nil, fmt.Errorf("%w: %s has no status", ErrFold, k.Kind)
	}
	fresh := reflect.New(sf.Type())
	if err := json.Unmarshal(sc.Status, fresh.Interface()); err != nil {
		return nil, fmt.Errorf("%w: %s status: %v", ErrFold, ev.Object, err)
	}
	sf.Set(fresh.Elem())
	obj.SetResourceVersion(strconv.FormatUint(ev.Seq, 10))
	return &Stored{Object: obj, LastApplied: prev.LastApplied}, nil
}

func foldDeleting(k *Kind, prev *Stored, ev *events.Event) (*Stored, error) {
	var d Deletion
	if len(ev.Payload) > 0 {
		if err := json.Unmarshal(ev.Payload, &d); err != nil {
			return nil, fmt.Errorf("%w: %s payload: %v", ErrFold, ev.Type, err)
		}
	}
	obj := prev.Object.DeepCopyObject().(Object)
	if obj.GetDeletionTimestamp() == nil {
		t := metav1.NewTime(ev.Time.UTC().Truncate(1e9))
		obj.SetDeletionTimestamp(&t)
		obj.SetDeletionGracePeriodSeconds(d.GracePeriodSeconds)
	}
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceTerminating
	}
	obj.SetResourceVersion(strconv.FormatUint(ev.Seq, 10))
	return &Stored{Object: obj, LastApplied: prev.LastApplied}, nil
}

// initStatus sets the status a new object starts with.
func initStatus(obj Object) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		o.Status.Phase = corev1.NamespaceActive
	case *corev1.Pod:
		o.Status.Phase = corev1.PodPending
	case *corev1.PersistentVolume:
		o.Status.Phase = corev1.VolumePending
	case *corev1.PersistentVolumeClaim:
		o.Status.Phase = corev1.ClaimPending
	}
}

// keepSystemSpec copies spec fields that the system, not the person, sets.
func keepSystemSpec(old, obj Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		if p := old.(*corev1.Pod); o.Spec.NodeName == "" {
			o.Spec.NodeName = p.Spec.NodeName
		}
	case *corev1.PersistentVolumeClaim:
		// The binder's: the volume it bound, the default class it assigned.
		p := old.(*corev1.PersistentVolumeClaim)
		if o.Spec.VolumeName == "" {
			o.Spec.VolumeName = p.Spec.VolumeName
		}
		if o.Spec.StorageClassName == nil {
			o.Spec.StorageClassName = p.Spec.StorageClassName
		}
	case *corev1.Service:
		p := old.(*corev1.Service)
		// As the API server's patchAllocatedValues: what both types have keeps
		// its allocated value.
		both := o.Spec.Type != corev1.ServiceTypeExternalName && p.Spec.Type != corev1.ServiceTypeExternalName
		if o.Spec.ClusterIP == "" && len(o.Spec.ClusterIPs) == 0 && both {
			o.Spec.ClusterIP, o.Spec.ClusterIPs = p.Spec.ClusterIP, p.Spec.ClusterIPs
		}
		if len(o.Spec.IPFamilies) == 0 && both {
			o.Spec.IPFamilies = p.Spec.IPFamilies
		}
		if o.Spec.IPFamilyPolicy == nil && both {
			o.Spec.IPFamilyPolicy = p.Spec.IPFamilyPolicy
		}
		for i := range o.Spec.Ports {
			if o.Spec.Ports[i].NodePort != 0 || !NeedsNodePorts(o) {
				continue
			}
			for _, pp := range p.Spec.Ports {
				if pp.Port == o.Spec.Ports[i].Port && pp.Protocol == o.Spec.Ports[i].Protocol {
					o.Spec.Ports[i].NodePort = pp.NodePort
				}
			}
		}
	}
}

func statusField(obj Object) reflect.Value {
	return reflect.ValueOf(obj).Elem().FieldByName("Status")
}

// setStatus replaces obj's status with from's (zero when from is nil).
func setStatus(obj, from Object) {
	sf := statusField(obj)
	if !sf.IsValid() {
		return
	}
	if from == nil {
		sf.Set(reflect.Zero(sf.Type()))
		return
	}
	sf.Set(statusField(from.DeepCopyObject().(Object)))
}

// specOf returns what generation counts: the Spec field.
func specOf(obj Object) any {
	f := reflect.ValueOf(obj).Elem().FieldByName("Spec")
	if !f.IsValid() {
		return nil
	}
	return f.Interface()
}

// KV is the part of a projection's state FoldStored uses.
type KV interface {
	Get(key []byte) (value []byte, ok bool, err error)
	Set(key, value []byte) error
	Delete(key []byte) error
}

// FoldStored folds ev into the object of kind k that s keeps at key (its
// Stored encoding, without the last applied manifest: only apply merges with
// it) and returns the object before and after; next is nil when ev deleted it,
// and so is the key. A reader's projection that keeps each object as it is
// folds through it.
func FoldStored(s KV, k *Kind, key []byte, ev *events.Event) (prev, next *Stored, err error) {
	raw, found, err := s.Get(key)
	if err != nil {
		return nil, nil, err
	}
	if found {
		if prev, err = DecodeStored(k, raw); err != nil {
			return nil, nil, err
		}
	}
	if next, err = Fold(prev, ev); err != nil {
		return nil, nil, err
	}
	if next == nil {
		return prev, nil, s.Delete(key)
	}
	next.LastApplied = nil
	data, err := next.Encode()
	if err != nil {
		return nil, nil, err
	}
	return prev, next, s.Set(key, data)
}
