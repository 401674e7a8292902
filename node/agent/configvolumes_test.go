package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func mode(m int32) *int32 { return &m }

// show renders files as "path:mode=content" lines, sorted.
func show(files map[string]volumeFile) string {
	var lines []string
	for p, f := range files {
		lines = append(lines, fmt.Sprintf("%s:%o=%q", p, f.mode, f.data))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestVolumeFiles(t *testing.T) {
	cmRef := corev1.LocalObjectReference{Name: "cfg"}
	cases := []struct {
		name string
		src  corev1.VolumeSource
		want string
		err  string
	}{
		{name: "configMap: every key, data and binaryData",
			src:  corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef}},
			want: "LEVEL:644=\"3\"\nbad key:644=\"x\"\nblob:644=\"\\x00\\x01\"\nmode:644=\"fast\""},
		{name: "configMap items with paths and modes, defaultMode",
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef, DefaultMode: mode(0o400),
				Items: []corev1.KeyToPath{{Key: "mode", Path: "conf/mode.txt"}, {Key: "LEVEL", Path: "level", Mode: mode(0o600)}}}},
			want: "conf/mode.txt:400=\"fast\"\nlevel:600=\"3\""},
		{name: "configMap missing key", err: "configmap references non-existent config key: nope",
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef, Items: []corev1.KeyToPath{{Key: "nope", Path: "n"}}}}},
		{name: "optional configMap missing key is left out",
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef, Optional: yes(),
				Items: []corev1.KeyToPath{{Key: "nope", Path: "n"}, {Key: "mode", Path: "m"}}}},
			want: "m:644=\"fast\""},
		{name: "missing configMap", err: `configmap "gone" not found`,
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}},
		{name: "optional missing configMap is an empty volume",
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: yes()}}},
		{name: "secret", src: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db"}},
			want: "password:644=\"s3cr3t\"\nusername:644=\"admin\""},
		{name: "secret missing key", err: "secret references non-existent secret key: nope",
			src: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db", Items: []corev1.KeyToPath{{Key: "nope", Path: "n"}}}}},
		{name: "missing secret", err: `secret "gone" not found`, src: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gone"}}},
		{name: "downwardAPI",
			src: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "annotations", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}},
				{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}, Mode: mode(0o400)},
				{Path: "mem_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "main", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
				{Path: "cpu_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "main", Resource: "limits.cpu", Divisor: resource.MustParse("1m")}},
			}}},
			want: "annotations:644=\"note=\\\"say \\\\\\\"hi\\\\\\\"\\\"\"\ncpu_limit:644=\"2000\"\nlabels:644=\"app=\\\"web\\\"\\ntier=\\\"front\\\"\"\nmem_limit:644=\"64\"\nname:644=\"web-1\"\nns:400=\"shop\""},
		{name: "downwardAPI of an unknown container", err: `container "nope" is not in pod web-1`,
			src: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "x", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "nope", Resource: "limits.cpu"}}}}}},
		{name: "projected: configMap, secret and downwardAPI under one defaultMode; a token source is left out",
			src: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: mode(0o440), Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cmRef, Items: []corev1.KeyToPath{{Key: "mode", Path: "cfg/mode"}}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Items: []corev1.KeyToPath{{Key: "username", Path: "db/user", Mode: mode(0o400)}}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "pod", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			}}},
			want: "cfg/mode:440=\"fast\"\ndb/user:400=\"admin\"\npod:440=\"web-1\""},
		{name: "projected: a missing secret fails the volume", err: `secret "gone" not found`,
			src: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}}}}},
		{name: "a path leaving the volume is refused", err: `must not contain '..'`,
			src: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cmRef, Items: []corev1.KeyToPath{{Key: "mode", Path: "a/../../etc"}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &corev1.Volume{Name: "v", VolumeSource: tc.src}
			files, err := volumeFiles(v, testPod(), testFacts, testConfig)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := show(files); got != tc.want {
				t.Errorf("files =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestWriteAtomic checks the kubelet's layout: ..data links to a timestamped
// directory, each key links through ..data, an update swaps ..data and removes
// the old directory and keys no longer there, and an unchanged set writes
// nothing.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	first := map[string]volumeFile{"a": {data: []byte("1"), mode: 0o644}, "sub/b": {data: []byte("2"), mode: 0o400}}
	if wrote, err := writeAtomic(dir, first); err != nil || !wrote {
		t.Fatalf("first write = %v, %v", wrote, err)
	}
	old, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil || !strings.HasPrefix(old, "..") {
		t.Fatalf("..data -> %q, %v", old, err)
	}
	for p, want := range map[string]string{"a": "1", "sub/b": "2"} {
		if got, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	if l, _ := os.Readlink(filepath.Join(dir, "a")); l != "..data/a" {
		t.Errorf("a links to %q, want ..data/a", l)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "sub/b")); fi == nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("sub/b mode = %v, want 0400", fi)
	}
	if wrote, err := writeAtomic(dir, first); err != nil || wrote {
		t.Fatalf("unchanged write = %v, %v; want nothing written", wrote, err)
	}
	if wrote, err := writeAtomic(dir, map[string]volumeFile{"a": {data: []byte("1"), mode: 0o600}, "sub/b": first["sub/b"]}); err != nil || !wrote {
		t.Fatalf("a changed mode alone must be written: %v, %v", wrote, err)
	}
	second := map[string]volumeFile{"a": {data: []byte("one"), mode: 0o644}, "c": {data: []byte("3"), mode: 0o644}}
	if wrote, err := writeAtomic(dir, second); err != nil || !wrote {
		t.Fatalf("second write = %v, %v", wrote, err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 4 { // ..<ts>, ..data, a, c
		t.Errorf("volume holds %v, want the new timestamped directory, ..data, a and c", names)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a")); string(got) != "one" {
		t.Errorf("a = %q after the update", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("sub is still there after its key went: %v", err)
	}
}

func configEvent(kind, verb, name string, seq uint64, obj string) *events.Event {
	return &events.Event{ID: fmt.Sprint(seq), Type: strings.ToLower(kind) + "." + verb, Seq: seq, Time: t0, Actor: "test",
		Object: events.Ref{Kind: kind, Namespace: "shop", Name: name}, Schema: events.SchemaVersion,
		Payload: []byte(obj)}
}

// TestConfigFold keeps the newest ConfigMap and Secret, forgets deleted ones,
// and refuses anything else.
func TestConfigFold(t *testing.T) {
	st := projections.NewMemState()
	cm := func(v string) string {
		return `{"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"shop","uid":"u1"},"data":{"k":"` + v + `"}}}`
	}
	for _, ev := range []*events.Event{configEvent("ConfigMap", object.Created, "cfg", 1, cm("a")), configEvent("ConfigMap", object.Updated, "cfg", 2, cm("b"))} {
		if err := ConfigFold(st, ev); err != nil {
			t.Fatal(err)
		}
	}
	raw, ok, _ := st.Get(configKey("ConfigMap", "shop", "cfg"))
	if !ok || !strings.Contains(string(raw), `"k":"b"`) {
		t.Fatalf("stored %s, want the updated ConfigMap", raw)
	}
	if err := ConfigFold(st, configEvent("ConfigMap", object.Deleted, "cfg", 3, `{"uid":"u1"}`)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Get(configKey("ConfigMap", "shop", "cfg")); ok {
		t.Error("a deleted ConfigMap is still in the projection")
	}
	if err := ConfigFold(st, configEvent("Pod", object.Created, "p", 4, `{}`)); err == nil {
		t.Error("the config projection folded a Pod")
	}
}
