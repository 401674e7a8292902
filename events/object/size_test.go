package object

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// deploymentWithArgs is a Deployment manifest whose container has one argument of
// n bytes: a way to make an object of a chosen size that is otherwise valid.
func deploymentWithArgs(name string, n int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers: [{name: c, image: nginx:1.27, args: [%q]}]
`, name, name, name, strings.Repeat("x", n))
}

func TestDecodeRefusesObjectsLargerThanTheLimit(t *testing.T) {
	small := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: small}\ndata: {a: b}\n"
	tests := []struct {
		name     string
		manifest string
		want     []string // substrings of the error; nil: accepted
	}{
		{"just under the limit", deploymentWithArgs("web", MaxObjectBytes-1024), nil},
		{"2 MiB Deployment after a small document", small + "---\n" + deploymentWithArgs("big", 2<<20),
			[]string{`big.yaml: document 2 (Deployment "big"): object is too large: 2.0 MiB (`, "at most 1.5 MiB (1572864 bytes)"}},
		{"2 MiB ConfigMap: its data and the object are too large",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: " + strings.Repeat("x", 2<<20) + "}\n",
			[]string{`big.yaml: document 1 (ConfigMap "cm")`, "object is too large: 2.0 MiB", "data: Too long: may not be more than 1048576 bytes"}},
		{"1.1 MiB Secret: its data is too large",
			"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: " + strings.Repeat("x", 1100<<10) + "}\n",
			[]string{`big.yaml: document 1 (Secret "s"): data: Too long: may not be more than 1048576 bytes`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Decode("big.yaml", []byte(tt.manifest))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want a refused document", err)
			}
			if docs != nil {
				t.Errorf("Decode returned %d documents beside the error; a refused file yields none", len(docs))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}
