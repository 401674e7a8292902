package scheduler

import (
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// Projection is the scheduler's read model: every Node, Pod, claim, volume and
// StorageClass, with the
// event that last changed each (the cause of what the scheduler appends about it).
//
// Keys: o\x00<kind>\x00<namespace>\x00<name> -> reconcile.Record.
func Projection() projections.Projection {
	return projections.Projection{
		Name: "scheduler", Version: 2, Fold: Fold, Prepare: object.Prepare,
		Subjects: []string{events.KindSubjects("Node", "", true), events.KindSubjects("Pod", "", false),
			events.KindSubjects("PersistentVolumeClaim", "", false), events.KindSubjects("PersistentVolume", "", true),
			events.KindSubjects("StorageClass", "", true)},
	}
}

func recordKey(kind, namespace, name string) []byte {
	return []byte("o\x00" + kind + "\x00" + namespace + "\x00" + name)
}

var folded = map[string]bool{"Node": true, "Pod": true, "PersistentVolumeClaim": true, "PersistentVolume": true, "StorageClass": true}

// Fold is pure over s.
func Fold(s projections.State, ev *events.Event) error {
	k, ok := object.ByKind(ev.Object.Kind)
	if !ok || !folded[k.Kind] {
		return fmt.Errorf("%w: the scheduler folds nodes, pods and storage, not %q", object.ErrFold, ev.Object.Kind)
	}
	key := recordKey(k.Kind, ev.Object.Namespace, ev.Object.Name)
	_, _, err := reconcile.FoldRecord(s, k, key, ev)
	return err
}

func readRecord(rd projections.Reader, kind, namespace, name string) (*object.Stored, *reconcile.Record, error) {
	k, _ := object.ByKind(kind)
	return reconcile.ReadRecord(rd, k, recordKey(kind, namespace, name))
}
