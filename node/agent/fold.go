package agent

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Projection is the agent's read model of its inbox (ev.node.<node>.>): the pod
// each assigned event asks it to run, and the version of every facet subject (the
// guard of its own status reports).
//
// Keys: p\x00<namespace>\x00<name> -> object.Assignment; v\x00<namespace>\x00<name> -> facet version.
//
// A revocation turns the assigned pod it names into one being deleted (its time
// and grace period the revocation's); a stopped report removes the pod it names
// only, never a later pod of the same name.
func Projection(node string) projections.Projection {
	return projections.Projection{Name: "agent", Version: 2, Fold: Fold,
		Subjects: []string{events.NodeInbox(node)}}
}

func podKey(prefix, ns, name string) []byte { return []byte(prefix + "\x00" + ns + "\x00" + name) }

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	if ev.Object.Kind == "PersistentVolume" && ev.Object.Node != "" {
		return foldVolume(s, ev)
	}
	if ev.Object.Kind != "Pod" || ev.Object.Node == "" {
		return fmt.Errorf("%w: the agent folds pod facets, not %s", object.ErrFold, ev.Object)
	}
	ns, name := ev.Object.Namespace, ev.Object.Name
	if err := s.Set(podKey("v", ns, name), []byte(strconv.FormatUint(ev.Seq, 10))); err != nil {
		return err
	}
	switch strings.TrimPrefix(ev.Type, "pod.") {
	case object.Assigned:
		var a object.Assignment
		if err := json.Unmarshal(ev.Payload, &a); err != nil || len(a.Pod) == 0 {
			return fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
		}
		return s.Set(podKey("p", ns, name), ev.Payload)
	case object.Stopped:
		// Only the pod it names: a later pod of the name may be assigned already.
		d, err := deletionOf(ev)
		if err != nil {
			return err
		}
		_, pod, err := assignment(s, ns, name)
		if err != nil || pod == nil || (d.UID != "" && string(pod.UID) != d.UID) {
			return err
		}
		return s.Delete(podKey("p", ns, name))
	case object.Revoked:
		// The pod was deleted outright: the node stops it as one being deleted.
		d, err := deletionOf(ev)
		if err != nil {
			return err
		}
		asg, pod, err := assignment(s, ns, name)
		if err != nil || pod == nil || string(pod.UID) != d.UID {
			return err // not the pod this node has now: nothing to stop for it
		}
		if pod.DeletionTimestamp == nil {
			t := metav1.NewTime(ev.Time.UTC().Truncate(time.Second))
			pod.DeletionTimestamp = &t
		}
		if d.GracePeriodSeconds != nil {
			pod.DeletionGracePeriodSeconds = d.GracePeriodSeconds
		}
		if asg.Pod, err = json.Marshal(pod); err != nil {
			return err
		}
		data, _ := json.Marshal(asg)
		return s.Set(podKey("p", ns, name), data)
	case object.Status, object.FailedMount, object.Unhealthy, object.Killing, object.FailedPostStartHook, object.FailedPreStopHook:
		return nil
	}
	return fmt.Errorf("%w: unknown inbox event %s", object.ErrFold, ev.Type)
}

func deletionOf(ev *events.Event) (object.Deletion, error) {
	var d object.Deletion
	if len(ev.Payload) > 0 && string(ev.Payload) != "null" {
		if err := json.Unmarshal(ev.Payload, &d); err != nil {
			return d, fmt.Errorf("%w: %s payload: %v", object.ErrFold, ev.Type, err)
		}
	}
	return d, nil
}

// assignment is the pod ns/name this node is assigned now (nil: none).
func assignment(rd projections.Reader, ns, name string) (object.Assignment, *corev1.Pod, error) {
	var asg object.Assignment
	raw, ok, err := rd.Get(podKey("p", ns, name))
	if err != nil || !ok {
		return asg, nil, err
	}
	if err := json.Unmarshal(raw, &asg); err != nil {
		return asg, nil, err
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(asg.Pod, pod); err != nil {
		return asg, nil, err
	}
	return asg, pod, nil
}
