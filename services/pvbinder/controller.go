package pvbinder

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// Decision is the volume binder: every round decides for all it holds (a binding joins a claim and a volume).
// The loop runs it after every commit and every 3 s; reconciletest runs it as a script.
func Decision() reconcile.Decision {
	return reconcile.WholeDecision("volume binder", Projection(), func(rd projections.Reader, _ time.Time) ([]reconcile.Action, error) {
		st, err := Load(rd)
		if err != nil {
			return nil, err
		}
		return Decide(st), nil
	})
}

// Load reads the State from the projection.
func Load(rd projections.Reader) (*State, error) {
	st := &State{Claims: map[string]*Claim{}, Volumes: map[string]*Volume{}, Classes: map[string]*storagev1.StorageClass{}, Nodes: map[string]Node{}, DeletedClasses: map[string]bool{}}
	pvcKind, _ := object.ByKind("PersistentVolumeClaim")
	pvKind, _ := object.ByKind("PersistentVolume")
	scKind, _ := object.ByKind("StorageClass")
	var ferr error
	scan := func(prefix string, fn func(rest string, v []byte) error) error {
		err := rd.Scan([]byte(prefix+"\x00"), false, func(k, v []byte) bool {
			ferr = fn(string(k[len(prefix)+1:]), v)
			return ferr == nil
		})
		if err != nil {
			return err
		}
		return ferr
	}
	decode := func(k *object.Kind, v []byte) (object.Object, *record, error) {
		var rec record
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, nil, err
		}
		s, err := object.DecodeStored(k, rec.Stored)
		if err != nil {
			return nil, nil, err
		}
		return s.Object, &rec, nil
	}
	err := scan("c", func(rest string, v []byte) error {
		obj, rec, err := decode(pvcKind, v)
		if err != nil {
			return err
		}
		pvc := obj.(*corev1.PersistentVolumeClaim)
		st.Claims[pvc.Namespace+"/"+pvc.Name] = &Claim{PVC: pvc, Version: rec.Version, Cause: events.Event{ID: rec.EventID, Time: rec.Time}}
		return nil
	})
	if err == nil {
		err = scan("v", func(rest string, v []byte) error {
			obj, rec, err := decode(pvKind, v)
			if err != nil {
				return err
			}
			pv := obj.(*corev1.PersistentVolume)
			st.Volumes[pv.Name] = &Volume{PV: pv, Version: rec.Version, Cause: events.Event{ID: rec.EventID, Time: rec.Time}}
			return nil
		})
	}
	if err == nil {
		err = scan("s", func(rest string, v []byte) error {
			obj, _, err := decode(scKind, v)
			if err == nil {
				st.Classes[obj.GetName()] = obj.(*storagev1.StorageClass)
			}
			return err
		})
	}
	if err == nil {
		err = scan("p", func(rest string, v []byte) error {
			var p podRec
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			ns, name, _ := strings.Cut(rest, "\x00")
			st.Pods = append(st.Pods, Pod{Namespace: ns, Name: name, Node: p.Node, Claims: p.Claims, Deleting: p.Deleting})
			return nil
		})
	}
	if err == nil {
		err = scan("n", func(rest string, v []byte) error {
			var n nodeRec
			if err := json.Unmarshal(v, &n); err != nil {
				return err
			}
			st.Nodes[rest] = Node{Labels: n.Labels, Root: n.Root, Cause: events.Event{ID: n.EventID, Time: n.Time}}
			return nil
		})
	}
	if err == nil {
		err = scan("t", func(rest string, _ []byte) error {
			st.DeletedClasses[rest] = true
			return nil
		})
	}
	if err == nil {
		err = scan("r", func(rest string, _ []byte) error {
			if v := st.Volumes[rest]; v != nil {
				v.Revoked = true
			}
			return nil
		})
	}
	return st, err
}
