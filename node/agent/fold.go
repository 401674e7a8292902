package agent

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
)

// Projection is the agent's read model of its inbox (ev.node.<node>.>): the pod
// each assigned event asks it to run, and the version of every facet subject (the
// guard of its own status reports).
//
// Keys: p\x00<namespace>\x00<name> -> object.Assignment; v\x00<namespace>\x00<name> -> facet version.
func Projection(node string) projections.Projection {
	return projections.Projection{Name: "agent", Version: 1, Fold: Fold,
		Subjects: []string{events.NodeInbox(node)}}
}

func podKey(prefix, ns, name string) []byte { return []byte(prefix + "\x00" + ns + "\x00" + name) }

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
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
		return s.Delete(podKey("p", ns, name))
	case object.Status:
		return nil
	}
	return fmt.Errorf("%w: unknown inbox event %s", object.ErrFold, ev.Type)
}
