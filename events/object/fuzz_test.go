package object

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecode feeds Decode arbitrary manifests, seeded with the corpus of real ones
// and a few hand-written edge cases. Decode must never panic; when it succeeds,
// every document has a kind, an object of that kind and valid declared JSON, and
// an object may always be "updated" to itself.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n",
		"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- 7\n",
		"---\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: '!!'}\n...\n",
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":-1}}`,
		"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80, targetPort: http}], type: NodePort}\n",
		"kind: Node\napiVersion: v1\nmetadata: {name: n}\nspec: {taints: [{key: k, effect: NoSchedule}]}\n",
		"apiVersion: v1\nkind: Pod\nspec:\n  volumes: [{name: v, awsElasticBlockStore: {}}]\n",
		"- a\n- b\n",
		"\t\tkind: Pod",
	} {
		f.Add([]byte(seed))
	}
	if dir, ok := corpusPath(); ok {
		files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
		invalid, _ := filepath.Glob(filepath.Join(dir, "invalid", "*.yaml"))
		for _, file := range append(files, invalid...) {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, d := range docs {
			if d.Kind == nil || d.Object == nil {
				t.Fatalf("%s: document without kind or object", d.Where())
			}
			if reflect.TypeOf(d.Object) != reflect.TypeOf(d.Kind.New()) {
				t.Fatalf("%s: object is %T, kind is %s", d.Where(), d.Object, d.Kind.Kind)
			}
			if gvk := d.Object.GetObjectKind().GroupVersionKind(); gvk.Kind != d.Kind.Kind {
				t.Fatalf("%s: object says kind %q, document %q", d.Where(), gvk.Kind, d.Kind.Kind)
			}
			var declared map[string]any
			if err := json.Unmarshal(d.Declared, &declared); err != nil {
				t.Fatalf("%s: Declared is not a JSON object: %v", d.Where(), err)
			}
			if errs := ValidateUpdate(d.Object, d.Object); len(errs) > 0 {
				t.Fatalf("%s: updating an object to itself is refused: %v", d.Where(), errs)
			}
		}
	})
}
