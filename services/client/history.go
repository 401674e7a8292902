package client

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// HistoryEntry is one revision of a Deployment as the log tells it: the
// ReplicaSet given the revision, its change cause, and who wrote its template
// into the Deployment and when (the newest such write before the revision).
type HistoryEntry struct {
	Revision    int64
	ReplicaSet  string
	ChangeCause string
	By          string    // the actor of the Deployment event that set the template
	At          time.Time // when the log stored it
	// Live: the ReplicaSet still holds this revision (false: pruned by
	// revisionHistoryLimit, deleted, or renumbered by a rollback to it).
	Live bool
}

// History returns every revision the Deployment d (by its uid) ever had, from the
// log, oldest first: those of ReplicaSets since pruned too, which kubectl can no
// longer show.
func (c *Client) History(ctx context.Context, d *appsv1.Deployment) ([]HistoryEntry, error) {
	ref := events.Ref{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name}
	cur, err := c.Log.Read(ctx, events.ReadOptions{Bounded: true,
		Subjects: []string{ref.Subject(), events.KindSubjects("ReplicaSet", d.Namespace, false)}})
	if err != nil {
		return nil, err
	}
	defer cur.Close()
	type write struct {
		actor    string
		at       time.Time
		template *corev1.PodTemplateSpec
	}
	var writes []write        // the Deployment's template as each event set it
	holds := map[string]int{} // replicaset -> index in out of the revision it holds
	var out []HistoryEntry
	for {
		rec, err := cur.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		ev, err := rec.Decode()
		if err != nil {
			return nil, err
		}
		switch ev.Object.Kind {
		case "Deployment":
			if ev.Type == "deployment.deleted" {
				writes = nil // a Deployment of the same name before d
			}
			var dep appsv1.Deployment
			if ev.Type != "deployment.created" && ev.Type != "deployment.updated" || !decodeChange(ev, &dep) {
				continue
			}
			if n := len(writes); n > 0 && equality.Semantic.DeepEqual(writes[n-1].template, &dep.Spec.Template) {
				continue
			}
			writes = append(writes, write{actor: ev.Actor, at: ev.Time, template: &dep.Spec.Template})
		case "ReplicaSet":
			if ev.Type == "replicaset.deleted" {
				if i, ok := holds[ev.Object.Name]; ok {
					out[i].Live = false
					delete(holds, ev.Object.Name)
				}
				continue
			}
			if ev.Type != "replicaset.created" && ev.Type != "replicaset.updated" {
				continue
			}
			var rs appsv1.ReplicaSet
			if !decodeChange(ev, &rs) || !controlledBy(&rs, d.UID) {
				continue
			}
			n, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
			if err != nil {
				continue
			}
			if i, ok := holds[rs.Name]; ok && out[i].Revision == n {
				out[i].ChangeCause = rs.Annotations[ChangeCauseAnnotation]
				continue
			} else if ok {
				out[i].Live = false
			}
			e := HistoryEntry{Revision: n, ReplicaSet: rs.Name, ChangeCause: rs.Annotations[ChangeCauseAnnotation], Live: true}
			tmpl := rs.Spec.Template.DeepCopy()
			delete(tmpl.Labels, hashLabel)
			if len(tmpl.Labels) == 0 {
				tmpl.Labels = nil
			}
			for i := len(writes) - 1; i >= 0; i-- {
				if equality.Semantic.DeepEqual(writes[i].template, tmpl) {
					e.By, e.At = writes[i].actor, writes[i].at
					break
				}
			}
			holds[rs.Name] = len(out)
			out = append(out, e)
		}
	}
	return out, nil
}

// decodeChange decodes a created or updated event's object into obj.
func decodeChange(ev *events.Event, obj object.Object) bool {
	var ch object.Change
	if json.Unmarshal(ev.Payload, &ch) != nil || json.Unmarshal(ch.Object, obj) != nil {
		return false
	}
	object.Default(obj)
	return true
}

func controlledBy(o metav1.Object, uid types.UID) bool {
	ref := metav1.GetControllerOfNoCopy(o)
	return ref != nil && ref.UID == uid
}
