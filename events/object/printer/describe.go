package printer

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Event is one entry of an object's history, shown by Describe under
// "Events:".
type Event struct {
	// Time is when the event happened; it drives ordering and the Age column.
	Time time.Time
	// Type is the wake event type, e.g. "deployment.created".
	Type string
	// Actor is who appended the event, e.g. "user:alice"; shown as From.
	Actor string
	// Message is a short human reason; shown as Message.
	Message string
	// Count, when above 1, is how many times it happened since FirstTime:
	// Age shows "3s (x5 over 40s)", as kubectl for a repeated event.
	Count     int32
	FirstTime time.Time
}

// Describe writes a kubectl-describe-style text for obj, following
// kubectl's layout for Pod, Deployment, ReplicaSet, Service, Endpoints,
// Ingress, ConfigMap, Secret, Namespace and Node; any other object gets its
// metadata plus its remaining top-level fields (spec, status, ...) as
// indented YAML. Secret values are never printed, only their sizes.
//
// The text ends with an "Events:" section listing events oldest first
// (newest last) with the columns Type, Reason, Age, From and Message:
// Type is "Warning" when the wake event type contains "failed", "rejected",
// "unschedulable", "backoff", "killed" or "unhealthy" (case-insensitively) and "Normal"
// otherwise; Reason is the part of the event type after the first '.' in
// CamelCase ("deployment.created" -> "Created", "pod.image-pull-failed" ->
// "ImagePullFailed"); Age is relative to now (zero means time.Now()); From
// is the Actor. Without events the section is "Events:  <none>" (aligned
// with the fields above it, as kubectl does).
func Describe(w io.Writer, obj runtime.Object, events []Event, now time.Time) error {
	return DescribeRelated(w, obj, Related{}, events, now)
}

// DescribeRelated is Describe with the objects the description mentions
// besides obj (see Related): a Deployment then shows its OldReplicaSets and
// NewReplicaSet, a Node its Non-terminated Pods and Allocated resources.
func DescribeRelated(w io.Writer, obj runtime.Object, rel Related, events []Event, now time.Time) error {
	if now.IsZero() {
		now = time.Now()
	}
	var buf bytes.Buffer
	pw := newPrefixWriter(&buf)
	d := describer{w: pw, now: now, rel: rel}
	var err error
	switch o := typed(obj).(type) {
	case *corev1.Pod:
		d.pod(o)
	case *appsv1.Deployment:
		d.deployment(o)
	case *appsv1.ReplicaSet:
		d.replicaSet(o)
	case *corev1.Service:
		d.service(o)
	case *corev1.Endpoints:
		d.endpoints(o)
	case *networkingv1.Ingress:
		d.ingress(o)
	case *corev1.ConfigMap:
		d.configMap(o)
	case *corev1.Secret:
		d.secret(o)
	case *corev1.Namespace:
		d.namespace(o)
	case *corev1.Node:
		d.node(o)
	default:
		err = d.generic(o)
	}
	if err != nil {
		return err
	}
	d.events(events)
	if err := pw.flush(); err != nil {
		return err
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// Indentation levels of kubectl's PrefixWriter (two spaces each).
const (
	level0 = iota
	level1
	level2
	level3
)

// prefixWriter mirrors kubectl's describe PrefixWriter: indented, escaped
// lines into a tabwriter configured as kubectl's tabbedString.
type prefixWriter struct {
	out io.Writer
	tw  *tabwriter.Writer
}

func newPrefixWriter(out io.Writer) *prefixWriter {
	return &prefixWriter{out: out, tw: tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)}
}

// describeEscaper neutralises terminal escapes like kubectl's WriteEscaped.
var describeEscaper = strings.NewReplacer("\x1b", "^[", "\r", "\\r")

// write formats a line at the given indentation level. format is always a
// constant of this package; data goes through args.
func (p *prefixWriter) write(level int, format string, args ...interface{}) {
	s := strings.Repeat("  ", level) + fmt.Sprintf(format, args...)
	_, _ = describeEscaper.WriteString(p.tw, s)
}

// raw writes s verbatim (escaped), bypassing column alignment.
func (p *prefixWriter) raw(s string) {
	_ = p.tw.Flush()
	_, _ = describeEscaper.WriteString(p.out, s)
}

// flush ends the current alignment block.
func (p *prefixWriter) flush() error {
	return p.tw.Flush()
}

// describer writes one object's description.
type describer struct {
	w   *prefixWriter
	now time.Time
	rel Related
}

// labels prints "Title:\tk=v" lines, one label per line, sorted, or <none>.
func (d describer) labels(title string, m map[string]string) {
	d.labelsIndent("", title, m)
}

func (d describer) labelsIndent(indent, title string, m map[string]string) {
	d.w.write(level0, "%s%s:\t", indent, title)
	if len(m) == 0 {
		d.w.write(level0, "<none>\n")
		return
	}
	for i, k := range sortedKeys(m) {
		if i != 0 {
			d.w.write(level0, "%s\t", indent)
		}
		d.w.write(level0, "%s=%s\n", k, m[k])
	}
}

// maxAnnotationLen is where kubectl folds long annotations.
const maxAnnotationLen = 140

// annotations prints annotations like kubectl: sorted "key: value" lines,
// long or multi-line values folded below the key, last-applied-configuration
// skipped.
func (d describer) annotations(title string, m map[string]string) {
	d.w.write(level0, "%s:\t", title)
	var keys []string
	for _, k := range sortedKeys(m) {
		if k != corev1.LastAppliedConfigAnnotation {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		d.w.write(level0, "<none>\n")
		return
	}
	for i, k := range keys {
		if i != 0 {
			d.w.write(level0, "\t")
		}
		v := strings.TrimSuffix(m[k], "\n")
		if len(v)+len(k)+2 > maxAnnotationLen || strings.Contains(v, "\n") {
			d.w.write(level0, "%s:\n", k)
			for _, line := range strings.Split(v, "\n") {
				if len(line) > maxAnnotationLen-2 {
					line = line[:maxAnnotationLen-2] + "..."
				}
				d.w.write(level0, "\t  %s\n", line)
			}
			continue
		}
		d.w.write(level0, "%s: %s\n", k, v)
	}
}

// timestamp formats t as kubectl's describe does (RFC1123Z).
func timestamp(t time.Time) string {
	return t.Format(time.RFC1123Z)
}

// events writes the Events section.
func (d describer) events(events []Event) {
	if len(events) == 0 {
		d.w.write(level0, "Events:\t<none>\n")
		return
	}
	_ = d.w.flush()
	sorted := append([]Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	d.w.write(level0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
	d.w.write(level1, "----\t------\t----\t----\t-------\n")
	for _, e := range sorted {
		age := Age(e.Time, d.now)
		if e.Count > 1 && !e.FirstTime.IsZero() {
			age = fmt.Sprintf("%s (x%d over %s)", age, e.Count, Age(e.FirstTime, d.now))
		}
		d.w.write(level1, "%s\t%s\t%s\t%s\t%s\n",
			eventSeverity(e.Type), eventReason(e.Type), age, e.Actor, strings.TrimSpace(e.Message))
	}
}

// warningMarkers make an event a Warning.
var warningMarkers = []string{"failed", "rejected", "unschedulable", "backoff", "killed", "unhealthy"}

// eventSeverity maps a wake event type to kubectl's Normal/Warning.
func eventSeverity(eventType string) string {
	t := strings.ToLower(eventType)
	for _, m := range warningMarkers {
		if strings.Contains(t, m) {
			return "Warning"
		}
	}
	return "Normal"
}

// eventReason turns "pod.image-pull-failed" into "ImagePullFailed": the part
// after the first '.', split on '-', '_', '.' and spaces, each word
// capitalised.
func eventReason(eventType string) string {
	if _, after, ok := strings.Cut(eventType, "."); ok {
		eventType = after
	}
	words := strings.FieldsFunc(eventType, func(r rune) bool {
		return r == '-' || r == '_' || r == '.' || unicode.IsSpace(r)
	})
	var b strings.Builder
	for _, word := range words {
		r := []rune(word)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
