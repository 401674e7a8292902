package object

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestValidateStorage(t *testing.T) {
	runValidation(t, []validationCase{
		{"valid hostPath volume", "PersistentVolume", `{metadata: {name: pv1}, spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /data}}}`, nil},
		{"volume needs capacity, modes and a source", "PersistentVolume", `{metadata: {name: pv1}, spec: {}}`,
			[]string{"spec.accessModes: Required value: at least 1 access mode is required", "spec.capacity: Required value",
				"spec: Required value: must specify a volume type: hostPath or local"}},
		{"local volume needs node affinity", "PersistentVolume", `{metadata: {name: pv1}, spec: {capacity: {storage: 1Gi, cpu: 1}, accessModes: [ReadWriteOnce, Sometimes], persistentVolumeReclaimPolicy: Recycle, local: {path: data}}}`,
			[]string{
				`spec.accessModes[1]: Unsupported value: "Sometimes"`,
				`spec.capacity: Unsupported value: ["cpu","storage"]: supported values: "storage"`,
				`spec.local.path: Invalid value: "data": must be an absolute path`,
				"spec.nodeAffinity: Required value: Local volumes require node affinity",
				`spec.persistentVolumeReclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"`,
			}},
		{"valid claim", "PersistentVolumeClaim", `{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}, storageClassName: local-path}}`, nil},
		{"claim needs modes and storage", "PersistentVolumeClaim", `{metadata: {name: data}, spec: {storageClassName: Local_Path, resources: {requests: {storage: "0"}}}}`,
			[]string{"spec.accessModes: Required value", `spec.resources.requests[storage]: Invalid value: "0": must be greater than zero`,
				`spec.storageClassName: Invalid value: "Local_Path"`}},
		{"valid class", "StorageClass", `{metadata: {name: local-path}, provisioner: wake.run/local-path, volumeBindingMode: WaitForFirstConsumer}`, nil},
		{"class needs a provisioner and known modes", "StorageClass", `{metadata: {name: s}, reclaimPolicy: Recycle, volumeBindingMode: Later}`,
			[]string{"provisioner: Required value", `reclaimPolicy: Unsupported value: "Recycle"`, `volumeBindingMode: Unsupported value: "Later"`}},
	})
}

func TestValidateStorageUpdate(t *testing.T) {
	claim := func(extra string) string {
		return `{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}` + extra + `}}`
	}
	volume := func(extra string) string {
		return `{metadata: {name: pv1}, spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce]` + extra + `}}`
	}
	tests := []struct {
		name, kind, old, new string
		want                 []string
	}{
		{"the binder sets a claim's volume and default class once", "PersistentVolumeClaim", claim(""), claim(", volumeName: pv1, storageClassName: local-path"), nil},
		{"a bound claim's volume is immutable", "PersistentVolumeClaim", claim(", volumeName: pv1"), claim(", volumeName: pv2"),
			[]string{"spec: Forbidden: spec is immutable after creation except resources.requests"}},
		{"a claim's class is immutable once set", "PersistentVolumeClaim", claim(", storageClassName: a"), claim(", storageClassName: b"),
			[]string{"spec: Forbidden: spec is immutable after creation"}},
		{"a volume's claimRef and capacity may change", "PersistentVolume", volume(", hostPath: {path: /d}"), volume(", hostPath: {path: /d}, claimRef: {namespace: default, name: data}"), nil},
		{"a volume's source is immutable", "PersistentVolume", volume(", hostPath: {path: /d}"), volume(", hostPath: {path: /e}"),
			[]string{"spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"}},
		{"a class's policies are immutable", "StorageClass", `{metadata: {name: s}, provisioner: a.b/c}`, `{metadata: {name: s}, provisioner: a.b/c, reclaimPolicy: Retain}`,
			[]string{"reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _ := ByKind(tt.kind)
			objs := []Object{k.New(), k.New()}
			for i, m := range []string{tt.old, tt.new} {
				if err := yaml.UnmarshalStrict([]byte(m), objs[i]); err != nil {
					t.Fatal(err)
				}
				Default(objs[i])
				if errs := Validate(objs[i]); len(errs) > 0 {
					t.Fatalf("invalid test object: %v", errs)
				}
			}
			got := errorStrings(ValidateUpdate(objs[0], objs[1]))
			ok := len(got) == len(tt.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tt.want[i])
			}
			if !ok {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
