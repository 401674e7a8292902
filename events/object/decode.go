package object

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Document is one decoded, defaulted and validated manifest document.
type Document struct {
	Source string // file name, or "-" for standard input
	Index  int    // 1-based position of the document in its source
	Item   int    // 1-based position inside a kind: List, 0 otherwise
	Kind   *Kind
	// Object carries the defaults Kubernetes would set. Its namespace is empty when
	// the manifest names none; the caller chooses one.
	Object Object
	// Declared is the JSON of exactly what the person wrote, with server-populated
	// fields removed: the "last applied" configuration of a three-way apply.
	Declared json.RawMessage
	// Warnings name declared fields that are stored but not acted on yet.
	Warnings []string
}

// Where describes the document's position for messages: "web.yaml: document 2".
func (d *Document) Where() string { return where(d.Source, d.Index, d.Item) }

func where(source string, index, item int) string {
	s := fmt.Sprintf("%s: document %d", source, index)
	if item > 0 {
		s += fmt.Sprintf(", List item %d", item)
	}
	return s
}

// DocumentError says why one document was refused. Errors are the field-level
// problems, each naming its path and what is allowed.
type DocumentError struct {
	Source string
	Index  int
	Item   int
	Kind   string
	Name   string
	Errors []string
}

func (e *DocumentError) Error() string {
	head := where(e.Source, e.Index, e.Item)
	if e.Kind != "" {
		if e.Name != "" {
			head += fmt.Sprintf(" (%s %q)", e.Kind, e.Name)
		} else {
			head += fmt.Sprintf(" (%s)", e.Kind)
		}
	}
	if len(e.Errors) == 1 {
		return head + ": " + e.Errors[0]
	}
	return head + ":\n  * " + strings.Join(e.Errors, "\n  * ")
}

// ErrInvalid is wrapped by every DocumentError, for callers that branch on it.
var ErrInvalid = errors.New("invalid manifest")

// Is makes errors.Is(err, ErrInvalid) true for document errors.
func (e *DocumentError) Is(target error) bool { return target == ErrInvalid }

// Decode splits a YAML or JSON manifest into documents (as kubectl does: "---" lines,
// empty documents skipped, kind: List unwrapped) and decodes each strictly. It
// returns every document, or an error joining a DocumentError for each document that
// was refused; callers apply nothing unless all documents decode.
func Decode(source string, data []byte) ([]Document, error) {
	var docs []Document
	var errs []error
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for index := 1; ; index++ {
		raw, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, &DocumentError{Source: source, Index: index, Errors: []string{"cannot split documents: " + err.Error()}})
			break
		}
		ds, err := decodeDocument(source, index, raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ds == nil {
			index-- // kubectl does not count empty documents
		}
		docs = append(docs, ds...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return docs, nil
}

func decodeDocument(source string, index int, raw []byte) ([]Document, error) {
	fail := func(msg string, args ...any) error {
		return &DocumentError{Source: source, Index: index, Errors: []string{fmt.Sprintf(msg, args...)}}
	}
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		// A kind wake does not serve is refused by name even if its YAML has another
		// flaw (duplicate keys are only an error for strict parsers).
		if lax, lerr := yaml.YAMLToJSON(raw); lerr == nil {
			var tm struct{ APIVersion, Kind string }
			if json.Unmarshal(lax, &tm) == nil && tm.Kind != "" {
				if _, ok := ByKind(tm.Kind); !ok && tm.Kind != "List" {
					return nil, &DocumentError{Source: source, Index: index, Kind: tm.Kind,
						Errors: []string{fmt.Sprintf("kind %q (%s) is not served by wake; it serves: %s", tm.Kind, orNone(tm.APIVersion), ServedList())}}
				}
			}
		}
		return nil, fail("%s", yamlError(err))
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || string(js) == "null" {
		return nil, nil
	}
	var generic map[string]any
	if err := json.Unmarshal(js, &generic); err != nil {
		return nil, fail("a manifest document must be an object with apiVersion and kind, got %s", jsonKind(js))
	}
	kindName, _ := generic["kind"].(string)
	if kindName == "List" || strings.HasSuffix(kindName, "List") && generic["items"] != nil {
		return decodeList(source, index, generic)
	}
	d, err := decodeObject(source, index, 0, generic)
	if err != nil {
		return nil, err
	}
	return []Document{*d}, nil
}

var duplicateKey = regexp.MustCompile(`line (\d+): key "([^"]*)" already set in map`)

// yamlError rewrites go-yaml's messages in the form of the other decode errors.
func yamlError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	if m := duplicateKey.FindAllStringSubmatch(msg, -1); m != nil {
		var out []string
		for _, d := range m {
			out = append(out, fmt.Sprintf("%s: duplicate field (line %s): each field may appear once in a mapping", d[2], d[1]))
		}
		return strings.Join(out, "; ")
	}
	return msg
}

func decodeList(source string, index int, generic map[string]any) ([]Document, error) {
	items, ok := generic["items"].([]any)
	if !ok && generic["items"] != nil {
		return nil, &DocumentError{Source: source, Index: index, Kind: "List", Errors: []string{"items: must be a list of objects"}}
	}
	var docs []Document
	var errs []error
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			errs = append(errs, &DocumentError{Source: source, Index: index, Item: i + 1, Errors: []string{"a List item must be an object with apiVersion and kind"}})
			continue
		}
		d, err := decodeObject(source, index, i+1, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, *d)
	}
	return docs, errors.Join(errs...)
}

func jsonKind(js []byte) string {
	switch js[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	default:
		return "a scalar"
	}
}

// serverFields are populated by the server; a manifest may carry them (the output of
// `get -o yaml` does) and they are ignored.
var serverMetadata = []string{"creationTimestamp", "resourceVersion", "uid", "managedFields", "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

func decodeObject(source string, index, item int, generic map[string]any) (*Document, error) {
	derr := &DocumentError{Source: source, Index: index, Item: item}
	apiVersion, _ := generic["apiVersion"].(string)
	kindName, _ := generic["kind"].(string)
	derr.Kind = kindName
	if md, ok := generic["metadata"].(map[string]any); ok {
		derr.Name, _ = md["name"].(string)
		if derr.Name == "" {
			derr.Name, _ = md["generateName"].(string)
		}
	}
	if kindName == "" {
		derr.Errors = append(derr.Errors, "kind: Required value: every document needs a kind (wake serves: "+ServedList()+")")
		return nil, derr
	}
	k, ok := ByKind(kindName)
	if !ok {
		derr.Errors = append(derr.Errors, fmt.Sprintf("kind %q (%s) is not served by wake; it serves: %s", kindName, orNone(apiVersion), ServedList()))
		return nil, derr
	}
	if apiVersion == "" {
		derr.Errors = append(derr.Errors, fmt.Sprintf("apiVersion: Required value: %s needs apiVersion: %s", kindName, k.APIVersion()))
		return nil, derr
	}
	if apiVersion != k.APIVersion() {
		derr.Errors = append(derr.Errors, apiVersionError(k, apiVersion))
		return nil, derr
	}
	delete(generic, "status")
	if md, ok := generic["metadata"].(map[string]any); ok {
		for _, f := range serverMetadata {
			delete(md, f)
		}
	}
	declared, err := json.Marshal(generic)
	if err != nil {
		derr.Errors = append(derr.Errors, err.Error())
		return nil, derr
	}
	obj := k.New()
	strict, err := sigsjson.UnmarshalStrict(declared, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		derr.Errors = append(derr.Errors, describeDecodeError(k, generic, err))
		return nil, derr
	}
	for _, se := range strict {
		derr.Errors = append(derr.Errors, describeStrictError(k, se))
	}
	if len(derr.Errors) > 0 {
		return nil, derr
	}
	obj.GetObjectKind().SetGroupVersionKind(schemaGVK(k))
	warnings, refused := CheckFields(k, generic)
	for _, e := range refused {
		derr.Errors = append(derr.Errors, e.Error())
	}
	if len(derr.Errors) > 0 {
		return nil, derr
	}
	Default(obj)
	derr.Errors = append(derr.Errors, checkSize(obj, declared)...)
	for _, e := range Validate(obj) {
		derr.Errors = append(derr.Errors, e.Error())
	}
	if len(derr.Errors) > 0 {
		return nil, derr
	}
	return &Document{Source: source, Index: index, Item: item, Kind: k, Object: obj, Declared: declared, Warnings: warnings}, nil
}

func orNone(s string) string {
	if s == "" {
		return "no apiVersion"
	}
	return s
}

// legacyVersions maps removed apiVersions to the Kubernetes release that removed them.
var legacyVersions = map[string]string{
	"apps/v1beta1":              "1.16",
	"apps/v1beta2":              "1.16",
	"extensions/v1beta1":        "1.16 (Ingress: 1.22)",
	"networking.k8s.io/v1beta1": "1.22",
	"autoscaling/v2beta1":       "1.25",
	"autoscaling/v2beta2":       "1.26",
	"batch/v1beta1":             "1.25",
	"policy/v1beta1":            "1.25",
}

func apiVersionError(k *Kind, got string) string {
	if rel, ok := legacyVersions[got]; ok {
		return fmt.Sprintf("apiVersion: Unsupported value: %q: %s %s was removed in Kubernetes %s; use apiVersion: %s", got, got, k.Kind, rel, k.APIVersion())
	}
	return fmt.Sprintf("apiVersion: Unsupported value: %q: wake serves %s as %s", got, k.Kind, k.APIVersion())
}

// badBase64Key names the first data entry that is not valid base64.
func badBase64Key(generic map[string]any) string {
	data, _ := generic["data"].(map[string]any)
	keys := make([]string, 0, len(data))
	for key := range data {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if s, ok := data[key].(string); ok {
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				return "data[" + key + "]"
			}
		}
	}
	return "data"
}

func describeDecodeError(k *Kind, generic map[string]any, err error) string {
	var typeErr *json.UnmarshalTypeError
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &typeErr):
		path := cleanTypePath(typeErr.Field)
		if path == "" {
			path = "(document)"
		}
		return fmt.Sprintf("%s: Invalid value: a JSON %s where %s expects %s", path, typeErr.Value, k.Kind, goTypeName(typeErr.Type.String()))
	case errors.As(err, &b64):
		return fmt.Sprintf("%s: Invalid value: not valid base64 (at byte %d); Secret data values must be base64-encoded (use stringData for plain text)", badBase64Key(generic), int64(b64))
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return msg
}

// cleanTypePath drops the Go names of embedded structs from encoding/json's field
// paths ("spec.volumes.VolumeSource.fc.lun" -> "spec.volumes.fc.lun").
func cleanTypePath(p string) string {
	var keep []string
	for _, s := range strings.Split(p, ".") {
		if s != "" && s[0] >= 'A' && s[0] <= 'Z' {
			continue
		}
		keep = append(keep, s)
	}
	return strings.Join(keep, ".")
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean (true or false)"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a map"
	}
	return "an object (" + t[strings.LastIndex(t, ".")+1:] + ")"
}

func describeStrictError(k *Kind, err error) string {
	msg := err.Error()
	const unknown = "unknown field "
	if strings.HasPrefix(msg, unknown) {
		path := strings.Trim(strings.TrimPrefix(msg, unknown), `"`)
		hint := suggestField(k, path)
		return fmt.Sprintf("%s: unknown field%s", path, hint)
	}
	const dup = "duplicate field "
	if strings.HasPrefix(msg, dup) {
		path := strings.Trim(strings.TrimPrefix(msg, dup), `"`)
		return fmt.Sprintf("%s: duplicate field: each field may appear once", path)
	}
	return msg
}
