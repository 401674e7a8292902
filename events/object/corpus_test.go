package object

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// corpusPath is the corpus of real Kubernetes manifests and their conformance
// rules (README.md beside it); WAKE_CORPUS overrides it.
func corpusPath() (string, bool) {
	// The corpus is vendored in the repository (testdata/corpus, with its sources
	// and licences in its README), so CI never runs without it.
	dir := cmp.Or(os.Getenv("WAKE_CORPUS"), filepath.Join("..", "..", "testdata", "corpus", "k8s-examples"))
	_, err := os.Stat(filepath.Join(dir, "INDEX.tsv"))
	return dir, err == nil
}

// corpusDir returns the corpus, skipping the test when there is none.
func corpusDir(t testing.TB) string {
	dir, ok := corpusPath()
	if !ok {
		t.Skipf("no corpus at %s (set WAKE_CORPUS)", dir)
	}
	return dir
}

func corpusFiles(t testing.TB, dir string) []string {
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml", "*.json"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	return files
}

// splitDocuments splits a manifest the way Decode does, keeping empty documents
// out.
func splitDocuments(t testing.TB, data []byte) [][]byte {
	var docs [][]byte
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		raw, err := r.Read()
		if err == io.EOF {
			return docs
		}
		if err != nil {
			t.Fatalf("split: %v", err)
		}
		if js, err := yaml.YAMLToJSON(raw); err == nil && (len(bytes.TrimSpace(js)) == 0 || string(js) == "null") {
			continue
		}
		docs = append(docs, raw)
	}
}

// unjoin flattens errors.Join trees (Decode joins the errors of a List's items
// into the errors of the file).
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}

var indexPattern = regexp.MustCompile(`\[[^\]]*\]`)

// refusedCapability returns the refused capability a message's field path falls
// under for kind, or "" when the message does not name a refused field or value.
func refusedCapability(kind, msg string) string {
	path, _, ok := strings.Cut(msg, ": ")
	if !ok || !strings.Contains(msg, ": Unsupported value") {
		return ""
	}
	pattern := indexPattern.ReplaceAllString(path, "[]")
	if r, ok := valueRules[kind][pattern]; ok {
		return r.capability
	}
	for p := pattern; p != ""; p = parentPattern(p) {
		if r, ok := fieldRules[kind][p]; ok {
			if capabilities[r.capability].set == refused {
				return r.capability
			}
			return ""
		}
	}
	return ""
}

func parentPattern(p string) string {
	if strings.HasSuffix(p, "[]") {
		return strings.TrimSuffix(p, "[]")
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// kindTally counts one kind's documents for the conformance table.
type kindTally struct {
	accepted, warned, refused int
	reasons                   map[string]int
}

// TestCorpusConformance applies the conformance rules of the corpus README to every
// document of the positive set, one document at a time: a served kind is accepted
// (possibly with warnings) or refused naming a refused field or a removed
// apiVersion; any other kind is refused naming the kind.
func TestCorpusConformance(t *testing.T) {
	dir := corpusDir(t)
	tally := map[string]*kindTally{}
	count := func(kind string) *kindTally {
		if tally[kind] == nil {
			tally[kind] = &kindTally{reasons: map[string]int{}}
		}
		return tally[kind]
	}
	total := 0
	for _, file := range corpusFiles(t, dir) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(file)
		_, fileErr := Decode(name, data)
		fileRefused := false
		for i, raw := range splitDocuments(t, data) {
			var head struct{ APIVersion, Kind string }
			js, err := yaml.YAMLToJSON(raw)
			if err != nil || json.Unmarshal(js, &head) != nil {
				t.Errorf("%s: document %d: not YAML the corpus promises: %v", name, i+1, err)
				continue
			}
			docs, err := Decode(name, raw)
			if err == nil {
				for _, d := range docs {
					total++
					checkDocument(t, &d)
					if len(d.Warnings) > 0 {
						count(d.Kind.Kind).warned++
					} else {
						count(d.Kind.Kind).accepted++
					}
				}
				continue
			}
			fileRefused = true
			for _, e := range unjoin(err) {
				total++
				var de *DocumentError
				if !errors.As(e, &de) {
					t.Fatalf("%s: error is not a *DocumentError: %v", name, e)
				}
				kind := cmp.Or(de.Kind, head.Kind)
				where := fmt.Sprintf("%s: document %d (%s %s)", name, i+1, head.APIVersion, kind)
				if !strings.HasPrefix(de.Error(), name+": document ") {
					t.Errorf("%s: refusal does not identify the file and document: %v", where, de)
				}
				tk := count(kind)
				tk.refused++
				reasons := refusalReasons(t, where, kind, de.Errors)
				slices.Sort(reasons)
				for _, reason := range slices.Compact(reasons) {
					tk.reasons[reason]++
				}
			}
		}
		if fileRefused != (fileErr != nil) {
			t.Errorf("%s: Decode of the whole file (err %v) disagrees with its documents (refused %v)", name, fileErr, fileRefused)
		}
	}
	logConformanceTable(t, total, tally)
}

// refusalReasons checks that the messages refusing one document of kind are
// allowed by the conformance rules, and names their reasons for the table.
func refusalReasons(t *testing.T, where, kind string, msgs []string) []string {
	t.Helper()
	k, served := ByKind(kind)
	switch {
	case !served:
		if len(msgs) != 1 || !strings.Contains(msgs[0], fmt.Sprintf("kind %q", kind)) {
			t.Errorf("%s: an unserved kind must be refused naming it: %q", where, msgs)
		}
		return []string{"kind not served"}
	case len(msgs) == 1 && strings.HasPrefix(msgs[0], "apiVersion: "):
		if !strings.Contains(msgs[0], "use apiVersion: "+k.APIVersion()) {
			t.Errorf("%s: a removed apiVersion must be refused naming its replacement: %s", where, msgs[0])
		}
		version := strings.Split(msgs[0], `"`)[1]
		return []string{"apiVersion " + version + " removed"}
	}
	var reasons []string
	for _, msg := range msgs {
		switch capability := refusedCapability(kind, msg); {
		case capability != "":
			reasons = append(reasons, capability)
		case strings.Contains(msg, "duplicate field (line"):
			// Decode parses YAML strictly: a key given twice is refused (naming the
			// key and line), as kubectl's strict field validation refuses it,
			// rather than one of the values being dropped silently.
			t.Logf("%s: refused for a duplicate key: %s", where, msg)
			reasons = append(reasons, "duplicate YAML key")
		default:
			t.Errorf("%s: refused for a reason that is not a refused field: %s", where, msg)
		}
	}
	return reasons
}

// checkDocument asserts what every decoded document promises.
func checkDocument(t *testing.T, d *Document) {
	t.Helper()
	if d.Kind == nil || d.Object == nil {
		t.Fatalf("%s: document without kind or object", d.Where())
	}
	if got := d.Object.GetObjectKind().GroupVersionKind(); got.Kind != d.Kind.Kind || got.GroupVersion().String() != d.Kind.APIVersion() {
		t.Errorf("%s: object is %v, document kind is %s", d.Where(), got, d.Kind.Kind)
	}
	if !json.Valid(d.Declared) {
		t.Errorf("%s: Declared is not JSON", d.Where())
	}
}

func logConformanceTable(t *testing.T, total int, tally map[string]*kindTally) {
	kinds := sortedKeys(tally)
	slices.SortStableFunc(kinds, func(a, b string) int {
		_, sa := ByKind(a)
		_, sb := ByKind(b)
		switch {
		case sa && !sb:
			return -1
		case sb && !sa:
			return 1
		}
		return 0
	})
	var b strings.Builder
	fmt.Fprintf(&b, "corpus conformance, %d documents:\n", total)
	fmt.Fprintf(&b, "| kind | served | accepted | accepted with warnings | refused | why refused |\n|---|---|---:|---:|---:|---|\n")
	for _, kind := range kinds {
		c := tally[kind]
		_, served := ByKind(kind)
		var why []string
		for _, r := range sortedKeys(c.reasons) {
			why = append(why, fmt.Sprintf("%s ×%d", r, c.reasons[r]))
		}
		fmt.Fprintf(&b, "| %s | %v | %d | %d | %d | %s |\n", kind, served, c.accepted, c.warned, c.refused, strings.Join(why, ", "))
	}
	t.Log(b.String())
}

// TestCorpusRoundTrip checks what `wake get -o yaml | wake apply -f -` relies on:
// every accepted document, encoded as YAML, decodes to an equal object.
func TestCorpusRoundTrip(t *testing.T) {
	dir := corpusDir(t)
	for _, file := range corpusFiles(t, dir) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range splitDocuments(t, data) {
			docs, err := Decode(filepath.Base(file), raw)
			if err != nil {
				continue
			}
			for _, d := range docs {
				out, err := yaml.Marshal(d.Object)
				if err != nil {
					t.Fatalf("%s: marshal: %v", d.Where(), err)
				}
				again, err := Decode("get-output.yaml", out)
				if err != nil {
					t.Errorf("%s: re-decoding its own YAML fails: %v\n%s", d.Where(), err, out)
					continue
				}
				if len(again) != 1 || !equality.Semantic.DeepEqual(again[0].Object, d.Object) {
					t.Errorf("%s: round trip changed the object\nbefore: %+v\nafter:  %+v", d.Where(), d.Object, again[0].Object)
				}
			}
		}
	}
}

// TestCorpusInvalid applies rule 4: every file of invalid/ is refused, with a
// message that points at the cause INDEX.tsv gives.
func TestCorpusInvalid(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "invalid")
	// The keyword each refusal must contain: the cause from INDEX.tsv's EXPECT
	// REFUSAL column.
	want := map[string]string{
		"examples___archived__volumes__fibre_channel__fc.yaml":            "fc.lun: Invalid value: a JSON string",
		"examples___archived__volumes__rbd__rbd.yaml":                     "spec.volumes[0].rbd.imagefeatures: unknown field",
		"examples___archived__volumes__scaleio__pod.yaml":                 "spec.volumes[0].scaleIO.protectionDoamin: unknown field",
		"examples___archived__volumes__storageos__storageos-pod.yaml":     "spec.volumes[0].storageos.pool: unknown field",
		"examples___archived__volumes__storageos__storageos-pv.yaml":      "spec.storageos.secretName: unknown field",
		"website__controllers__job-pod-failure-policy-ignore.yaml":        "found a tab character",
		"website__deployments__deployment-with-capacity-reservation.yaml": "preferredDuringSchedulingIgnoredDuringExecution[0].labelSelector: unknown field",
		"website__pods__inject__pod-multiple-secret-env-variable.yaml":    "found a tab character",
		"website__pods__inject__pod-single-secret-env-variable.yaml":      "apiVersion: Required value",
		"website__pods__pod-with-node-affinity.yaml":                      "requiredDuringSchedulingIgnoredDuringExecution: Invalid value: a JSON array",
		"website__pods__security__security-context-7.yaml":                "spec.containers[0].securityContext.cgroupOptions: unknown field",
		"website__secret__serviceaccount__mysecretname.yaml":              "metadata.annotations: Invalid value: a JSON array",
		"website__secret__tls-auth-secret.yaml":                           "not valid base64",
		"website__service__networking__dual-stack-ipv6-lb-svc.yaml":       "spec.ipFamily: unknown field",
		"website__service__networking__example-ingress.yaml":              `apiVersion: Unsupported value: "networking.k8s.io/v1beta1"`,
	}
	files := corpusFiles(t, dir)
	if len(files) != len(want) {
		t.Errorf("invalid/ has %d files, the test expects %d", len(files), len(want))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(name, data)
			switch {
			case err == nil:
				t.Fatal("accepted an invalid manifest")
			case want[name] == "":
				t.Fatalf("no expected cause for this file; refusal: %v", err)
			case !strings.Contains(err.Error(), want[name]):
				t.Errorf("refusal does not point at the cause %q:\n%v", want[name], err)
			case !strings.Contains(err.Error(), name):
				t.Errorf("refusal does not name the file: %v", err)
			}
		})
	}
}

// TestKubectlCreateOutput decodes what `kubectl create deployment web --image=nginx
// --dry-run=client -o yaml` prints: its empty placeholders (creationTimestamp:
// null, strategy: {}, resources: {}, status: {}) declare nothing and draw no
// warning.
func TestKubectlCreateOutput(t *testing.T) {
	data, err := os.ReadFile("testdata/kubectl-create-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := Decode("kubectl-create-deployment.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 {
		t.Fatalf("got %d documents, want 1", len(docs))
	}
	for _, w := range docs[0].Warnings {
		for _, empty := range []string{"creationTimestamp", "strategy", "resources", "status"} {
			if strings.Contains(w, empty) {
				t.Errorf("warning about the empty %s: %s", empty, w)
			}
		}
	}
	// Everything kubectl create deployment declares is enforced now.
	if len(docs[0].Warnings) != 0 {
		t.Errorf("warnings = %q, want none", docs[0].Warnings)
	}
}
