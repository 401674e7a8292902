// Package printer renders Kubernetes objects exactly the way kubectl does:
// `get` tables (normal and wide), yaml, json and name output, and `describe`
// text. It lives beside the object model, as Kubernetes keeps its table
// printers server-side next to its types: the CLI, the dashboard and any API
// facade print the same cells.
//
// The column sets and cell formatting follow kubectl's server-side printers
// (kubernetes/kubernetes pkg/printers/internalversion) and the client-side
// table decoration of k8s.io/cli-runtime; the describe layouts follow
// k8s.io/kubectl/pkg/describe.
package printer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"
)

// Options control one Print call.
type Options struct {
	// Output selects the format: "" (table), "wide", "yaml", "json" or
	// "name". Any other value makes Print return an error.
	Output string
	// AllNamespaces prepends a NAMESPACE column to tables of namespaced
	// kinds (cluster-scoped kinds such as Node or Namespace never get one,
	// as in kubectl).
	AllNamespaces bool
	// NoHeaders omits the header line of tables (and, as in kubectl, the
	// blank line between the tables of different kinds).
	NoHeaders bool
	// ShowLabels appends a LABELS column to tables: k=v pairs sorted by key
	// and joined with ",", or "<none>".
	ShowLabels bool
	// Now is the reference time for AGE columns and "(5m ago)" suffixes;
	// the zero value means time.Now().
	Now time.Time
	// List makes yaml and json print a List even of one object, as kubectl
	// does for a list request (`get KIND` without names).
	List bool
}

// Print writes objs (typed k8s.io/api objects such as *corev1.Pod or
// *appsv1.Deployment, with TypeMeta APIVersion/Kind set; when TypeMeta is
// empty the kind is looked up from the k8s.io/api types known to this
// package) in the format chosen by opts.Output. List objects among objs are
// replaced by their items; unstructured objects of built-in kinds print like
// their typed form.
//
// Table and wide output use kubectl's columns for each kind. Objects of one
// kind print as one table with plain names. Objects of several kinds print
// one table per kind (in order of first appearance, each with its own header
// and alignment, separated by a blank line unless NoHeaders is set) with
// kind-qualified names such as "deployment.apps/web", as `kubectl get all`
// does. An empty objs prints nothing: callers print NoResourcesMessage to
// stderr themselves, as kubectl does.
//
// yaml/json: exactly one object prints as itself (unless opts.List); zero or
// several objects print as {apiVersion: v1, kind: List, items: [...], metadata:
// {resourceVersion: ""}}. Map keys are sorted like kubectl (which prints the
// server's unstructured objects); json is indented with 4 spaces.
//
// name: one "kind[.group]/name" line per object, e.g. "deployment.apps/web",
// "pod/x", "service/x".
func Print(w io.Writer, objs []runtime.Object, opts Options) error {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	objs, err := flatten(objs)
	if err != nil {
		return err
	}
	switch opts.Output {
	case "", "wide":
		return printTables(w, objs, opts)
	case "yaml":
		return printYAML(w, objs, opts.List)
	case "json":
		return printJSON(w, objs, opts.List)
	case "name":
		return printNames(w, objs)
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,wide,yaml", opts.Output)
	}
}

// flatten replaces list objects (*corev1.PodList, *unstructured.UnstructuredList,
// ...) by their items, as kubectl's resource builder does.
func flatten(objs []runtime.Object) ([]runtime.Object, error) {
	var out []runtime.Object
	for _, obj := range objs {
		if obj == nil || !meta.IsListType(obj) {
			out = append(out, obj)
			continue
		}
		items, err := meta.ExtractList(obj)
		if err != nil {
			return nil, err
		}
		items, err = flatten(items)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// NoResourcesMessage returns the message kubectl prints (to stderr, without
// a trailing newline here) when a list is empty: "No resources found in <ns>
// namespace." for a namespaced list in one namespace, or "No resources
// found" when listing across all namespaces, listing a cluster-scoped kind,
// or when namespace is empty.
func NoResourcesMessage(namespace string, allNamespaces bool, clusterScoped bool) string {
	if allNamespaces || clusterScoped || namespace == "" {
		return "No resources found"
	}
	return fmt.Sprintf("No resources found in %s namespace.", namespace)
}

// Age formats the time elapsed from created to now like kubectl's AGE column
// (k8s.io/apimachinery/pkg/util/duration.HumanDuration): "5s", "3m20s",
// "2d5h", "<unknown>" for a zero created time, "<invalid>" when created is
// more than a second after now. A zero now means time.Now().
func Age(created time.Time, now time.Time) string {
	if created.IsZero() {
		return "<unknown>"
	}
	if now.IsZero() {
		now = time.Now()
	}
	return duration.HumanDuration(now.Sub(created))
}

// printNames implements -o name.
func printNames(w io.Writer, objs []runtime.Object) error {
	var buf bytes.Buffer
	for _, obj := range objs {
		gvk := kindOf(obj)
		if gvk.Kind == "" {
			return fmt.Errorf("missing apiVersion or kind for %T; set TypeMeta", obj)
		}
		name := "<unknown>"
		if acc, err := meta.Accessor(obj); err == nil && acc.GetName() != "" {
			name = acc.GetName()
		}
		fmt.Fprintf(&buf, "%s/%s\n", qualifiedKind(gvk.GroupKind()), name)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// qualifiedKind renders a GroupKind the way kubectl prefixes names:
// "pod", "deployment.apps".
func qualifiedKind(gk schema.GroupKind) string {
	if gk.Group == "" {
		return strings.ToLower(gk.Kind)
	}
	return strings.ToLower(gk.Kind) + "." + gk.Group
}

// document returns the object (or the List wrapping objs) as generic JSON
// data, which gives kubectl's sorted-key output for both json and yaml.
func document(objs []runtime.Object, asList bool) (interface{}, error) {
	if len(objs) == 1 && !asList {
		return toGeneric(objs[0])
	}
	items := make([]interface{}, 0, len(objs))
	for _, obj := range objs {
		item, err := toGeneric(obj)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return map[string]interface{}{
		"apiVersion": "v1",
		"kind":       "List",
		"items":      items,
		"metadata":   map[string]interface{}{"resourceVersion": ""},
	}, nil
}

// toGeneric converts obj to map[string]interface{} via its JSON encoding,
// keeping numbers exact and filling apiVersion/kind when TypeMeta is empty.
func toGeneric(obj runtime.Object) (interface{}, error) {
	gvk := kindOf(obj)
	if gvk.Kind == "" {
		return nil, fmt.Errorf("missing apiVersion or kind for %T; set TypeMeta", obj)
	}
	if obj.GetObjectKind().GroupVersionKind().Empty() {
		obj = obj.DeepCopyObject()
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out interface{}
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func printJSON(w io.Writer, objs []runtime.Object, asList bool) error {
	doc, err := document(objs, asList)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(doc, "", "    ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

func printYAML(w io.Writer, objs []runtime.Object, asList bool) error {
	doc, err := document(objs, asList)
	if err != nil {
		return err
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}
