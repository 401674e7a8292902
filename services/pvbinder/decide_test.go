package pvbinder

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func class(name, provisioner string, wffc, isDefault bool, policy corev1.PersistentVolumeReclaimPolicy) *storagev1.StorageClass {
	mode := storagev1.VolumeBindingImmediate
	if wffc {
		mode = storagev1.VolumeBindingWaitForFirstConsumer
	}
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: &mode, ReclaimPolicy: &policy}
	if isDefault {
		sc.Annotations = map[string]string{object.DefaultClassAnnotation: "true"}
	}
	return sc
}

func claim(name, class, size string, edit ...func(*corev1.PersistentVolumeClaim)) *Claim {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	if class != "-" {
		pvc.Spec.StorageClassName = &class
	}
	for _, e := range edit {
		e(pvc)
	}
	return &Claim{PVC: pvc, Version: 10, Cause: events.Event{ID: "ev-" + name, Time: t0}}
}

func volume(name, class, size string, edit ...func(*corev1.PersistentVolume)) *Volume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.PersistentVolumeSpec{StorageClassName: class, PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadWriteMany},
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data/" + name}}},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
	for _, e := range edit {
		e(pv)
	}
	return &Volume{PV: pv, Version: 20, Cause: events.Event{ID: "ev-" + name, Time: t0}}
}

func boundTo(c *Claim) func(*corev1.PersistentVolume) {
	return func(pv *corev1.PersistentVolume) { pv.Spec.ClaimRef = fullRef(c.PVC) }
}

func onNode(node string) func(*corev1.PersistentVolume) {
	return func(pv *corev1.PersistentVolume) {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}
	}
}

func provisioned(pv *corev1.PersistentVolume) {
	pv.Annotations = map[string]string{object.ProvisionedByAnnotation: object.LocalPathProvisioner}
	pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
	onNode("node-a")(pv)
}

func state(claims []*Claim, volumes []*Volume, pods ...Pod) *State {
	st := &State{Claims: map[string]*Claim{}, Volumes: map[string]*Volume{}, Pods: pods,
		Classes: map[string]*storagev1.StorageClass{
			"local-path": class("local-path", object.LocalPathProvisioner, true, true, corev1.PersistentVolumeReclaimDelete),
			"manual":     class("manual", "kubernetes.io/no-provisioner", false, false, corev1.PersistentVolumeReclaimRetain),
			"local":      class("local", "kubernetes.io/no-provisioner", true, false, corev1.PersistentVolumeReclaimRetain),
		},
		Nodes: map[string]Node{
			"node-a": {Labels: map[string]string{corev1.LabelHostname: "node-a"}, Root: "/var/lib/wake/storage"},
			"node-b": {Labels: map[string]string{corev1.LabelHostname: "node-b"}},
		}}
	for _, c := range claims {
		st.Claims[c.PVC.Namespace+"/"+c.PVC.Name] = c
	}
	for _, v := range volumes {
		st.Volumes[v.PV.Name] = v
	}
	return st
}

// summary renders an action as "<type> <subject> @<guard>: <what changed>".
func summary(t *testing.T, ev *events.Event, expected uint64) string {
	t.Helper()
	s := ev.Type + " " + ev.Object.String() + " @" + itoa(expected)
	verb := ev.Type[strings.Index(ev.Type, ".")+1:]
	switch verb {
	case object.Created, object.Updated:
		var ch object.Change
		must(t, json.Unmarshal(ev.Payload, &ch))
		k, _ := object.ByKind(ev.Object.Kind)
		obj := k.New()
		must(t, json.Unmarshal(ch.Object, obj))
		switch o := obj.(type) {
		case *corev1.PersistentVolumeClaim:
			s += ": class=" + object.ClaimClassName(o) + " volume=" + o.Spec.VolumeName + " node=" + o.Annotations[object.SelectedNodeAnnotation]
		case *corev1.PersistentVolume:
			claim := ""
			if r := o.Spec.ClaimRef; r != nil {
				claim = r.Namespace + "/" + r.Name + "/" + string(r.UID)
			}
			q := o.Spec.Capacity[corev1.ResourceStorage]
			s += ": claim=" + claim + " path=" + object.VolumePath(o) + " node=" + object.VolumeNode(o) + " size=" + q.String() +
				" policy=" + string(o.Spec.PersistentVolumeReclaimPolicy)
		}
	case object.Status:
		var sc object.StatusChange
		must(t, json.Unmarshal(ev.Payload, &sc))
		var st struct {
			Phase    string
			Capacity corev1.ResourceList
			Message  string
		}
		must(t, json.Unmarshal(sc.Status, &st))
		s += ": " + st.Phase
		if q, ok := st.Capacity[corev1.ResourceStorage]; ok {
			s += " " + q.String()
		}
		if st.Message != "" {
			s += " (" + st.Message + ")"
		}
	case object.Revoked:
		var r object.VolumeRelease
		must(t, json.Unmarshal(ev.Payload, &r))
		s += ": rm " + r.Path
	}
	return s
}

func itoa(v uint64) string { b, _ := json.Marshal(v); return string(b) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDecide(t *testing.T) {
	data := claim("data", "manual", "1Gi")
	boundData := claim("data", "manual", "1Gi", func(p *corev1.PersistentVolumeClaim) { p.Spec.VolumeName = "pv-small" })
	web := claim("web", "local-path", "2Gi")
	webSelected := claim("web", "local-path", "2Gi", func(p *corev1.PersistentVolumeClaim) {
		p.Annotations = map[string]string{object.SelectedNodeAnnotation: "node-a"}
	})
	webPod := Pod{Namespace: "default", Name: "web-0", Node: "node-a", Claims: []string{"web"}}
	tests := []struct {
		name string
		st   *State
		want []string
	}{
		{"a claim without a class gets the default class",
			state([]*Claim{claim("data", "-", "1Gi")}, nil),
			[]string{"persistentvolumeclaim.updated PersistentVolumeClaim/default/data @10: class=local-path volume= node="}},
		{"an immediate claim takes the smallest volume that fits; the volume is bound first",
			state([]*Claim{data}, []*Volume{volume("pv-big", "manual", "10Gi"), volume("pv-small", "manual", "1Gi"),
				volume("pv-tiny", "manual", "500Mi"), volume("pv-other", "fast", "1Gi"),
				volume("pv-rox", "manual", "1Gi", func(pv *corev1.PersistentVolume) {
					pv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany}
				})}),
			[]string{"persistentvolume.updated PersistentVolume/pv-small @20: claim=default/data/uid-data path=/data/pv-small node= size=1Gi policy=Retain"}},
		{"a volume bound to the claim binds the claim; other volumes stay Available",
			state([]*Claim{data}, []*Volume{volume("pv-small", "manual", "1Gi", boundTo(data)), volume("pv-big", "manual", "10Gi", func(pv *corev1.PersistentVolume) { pv.Status.Phase = corev1.VolumePending })}),
			[]string{"persistentvolumeclaim.updated PersistentVolumeClaim/default/data @10: class=manual volume=pv-small node=",
				"persistentvolume.status PersistentVolume/pv-big @20: Available"}},
		{"a claim selects volumes by label",
			state([]*Claim{claim("data", "manual", "1Gi", func(p *corev1.PersistentVolumeClaim) {
				p.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "db"}}
			})}, []*Volume{volume("pv-a", "manual", "1Gi"), volume("pv-b", "manual", "5Gi", func(pv *corev1.PersistentVolume) { pv.Labels = map[string]string{"tier": "db"} })}),
			[]string{"persistentvolume.updated PersistentVolume/pv-b @20: claim=default/data/uid-data path=/data/pv-b node= size=5Gi policy=Retain"}},
		{"a bound claim and its volume report Bound with the volume's capacity",
			state([]*Claim{boundData}, []*Volume{volume("pv-small", "manual", "1Gi", boundTo(data))}),
			[]string{"persistentvolumeclaim.status PersistentVolumeClaim/default/data @10: Bound 1Gi",
				"persistentvolume.status PersistentVolume/pv-small @20: Bound"}},
		{"a bound claim whose volume is gone is Lost",
			state([]*Claim{boundData}, nil),
			[]string{"persistentvolumeclaim.status PersistentVolumeClaim/default/data @10: Lost"}},
		{"a WaitForFirstConsumer claim waits for a pod bound to a node",
			state([]*Claim{web}, nil, Pod{Namespace: "default", Name: "web-0", Claims: []string{"web"}}),
			nil},
		{"its first consumer's node is recorded on the claim",
			state([]*Claim{web}, nil, webPod),
			[]string{"persistentvolumeclaim.updated PersistentVolumeClaim/default/web @10: class=local-path volume= node=node-a"}},
		{"then a volume is provisioned on that node, under its local-path root, pre-bound to the claim",
			state([]*Claim{webSelected}, nil, webPod),
			[]string{"persistentvolume.created PersistentVolume/pvc-uid-web @0: claim=default/web/uid-web " +
				"path=/var/lib/wake/storage/pvc-uid-web_default_web node=node-a size=2Gi policy=Delete"}},
		{"a node that has not said where its volumes live gets none yet",
			state([]*Claim{claim("web", "local-path", "2Gi", func(p *corev1.PersistentVolumeClaim) {
				p.Annotations = map[string]string{object.SelectedNodeAnnotation: "node-b"}
			})}, nil),
			nil},
		{"a WaitForFirstConsumer claim binds only a volume its consumer's node reaches",
			state([]*Claim{claim("db", "local", "1Gi")}, []*Volume{volume("local-b", "local", "1Gi", onNode("node-b")), volume("local-a", "local", "1Gi", onNode("node-a"))},
				Pod{Namespace: "default", Name: "db-0", Node: "node-a", Claims: []string{"db"}}),
			[]string{"persistentvolume.updated PersistentVolume/local-a @20: claim=default/db/uid-db path=/data/local-a node=node-a size=1Gi policy=Retain"}},
		{"a claim of a provisioner wake does not run waits",
			state([]*Claim{claim("db", "local", "1Gi")}, nil, Pod{Namespace: "default", Name: "db-0", Node: "node-a", Claims: []string{"db"}}),
			nil},
		{"Retain: a volume whose claim is gone is Released and kept",
			state(nil, []*Volume{volume("pv-small", "manual", "1Gi", boundTo(data), func(pv *corev1.PersistentVolume) { pv.Status.Phase = corev1.VolumeBound })}),
			[]string{"persistentvolume.status PersistentVolume/pv-small @20: Released"}},
		{"a volume whose claim was replaced by another of the name is Released",
			state([]*Claim{claim("data", "manual", "1Gi", func(p *corev1.PersistentVolumeClaim) { p.UID = "uid-new" })},
				[]*Volume{volume("pv-small", "manual", "1Gi", boundTo(data), func(pv *corev1.PersistentVolume) { pv.Status.Phase = corev1.VolumeBound })}),
			[]string{"persistentvolume.status PersistentVolume/pv-small @20: Released"}},
		{"Delete: while a pod still mounts the claim's name the volume is only Released",
			state(nil, []*Volume{volume("pvc-uid-web", "local-path", "2Gi", provisioned, boundTo(web))}, webPod),
			[]string{"persistentvolume.status PersistentVolume/pvc-uid-web @20: Released"}},
		{"Delete: then its node is told to remove the directory",
			state(nil, []*Volume{volume("pvc-uid-web", "local-path", "2Gi", provisioned, boundTo(web))}),
			[]string{"persistentvolume.revoked PersistentVolume/pvc-uid-web@node-a @0: rm /data/pvc-uid-web"}},
		{"Delete: then the volume is deleted",
			func() *State {
				st := state(nil, []*Volume{volume("pvc-uid-web", "local-path", "2Gi", provisioned, boundTo(web))})
				st.Volumes["pvc-uid-web"].Revoked = true
				return st
			}(),
			[]string{"persistentvolume.deleted PersistentVolume/pvc-uid-web @20"}},
		{"Delete of a volume wake did not create fails instead of deleting data",
			state(nil, []*Volume{volume("pv-small", "manual", "1Gi", boundTo(data), func(pv *corev1.PersistentVolume) {
				pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
			})}),
			[]string{"persistentvolume.status PersistentVolume/pv-small @20: Failed (wake deletes only the volumes its local-path provisioner created; remove the data and delete the volume by hand)"}},
		{"a volume pre-bound by name to a claim not yet created stays Available",
			state(nil, []*Volume{volume("pv-small", "manual", "1Gi", func(pv *corev1.PersistentVolume) {
				pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "later"}
				pv.Status.Phase = corev1.VolumePending
			})}),
			[]string{"persistentvolume.status PersistentVolume/pv-small @20: Available"}},
	}
	noClasses := func(deleted bool) *State {
		st := state(nil, nil)
		st.Classes = nil
		st.DeletedClasses = map[string]bool{"local-path": deleted}
		return st
	}
	tests = append(tests, []struct {
		name string
		st   *State
		want []string
	}{
		{"the default local-path class is created once a node can provision", noClasses(false),
			[]string{"storageclass.created StorageClass/local-path @0"}},
		{"a default class someone deleted stays deleted", noClasses(true), nil},
		{"no node can provision: no class", func() *State {
			st := noClasses(false)
			delete(st.Nodes, "node-a")
			return st
		}(), nil},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range Decide(tt.st) {
				got = append(got, summary(t, a.Event, a.Expected))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
