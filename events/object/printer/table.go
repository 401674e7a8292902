package printer

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// kubectl's tabwriter settings (k8s.io/cli-runtime/pkg/printers/tabwriter.go).
// With a padding of 3 the minimum width of 6 only matters for columns whose
// every cell, header included, is shorter than 3 characters.
const (
	tableMinWidth = 6
	tableTabWidth = 4
	tablePadding  = 3
	tablePadChar  = ' '
)

// column is one table column. Wide columns (kubectl's priority 1) only show
// with -o wide.
type column struct {
	name string
	wide bool
}

// rowContext carries what row functions need besides the object.
type rowContext struct {
	now  time.Time
	wide bool
}

// tableKind is kubectl's printer for one kind: the column definitions and a
// function producing one cell per column (wide cells included) for an
// object. The first column is always the object's name.
type tableKind struct {
	columns []column
	row     func(obj runtime.Object, ctx rowContext) ([]string, error)
}

// tableRow is one printed row plus the metadata used for decoration.
type tableRow struct {
	cells     []string
	namespace string
	labels    map[string]string
}

// tableKindFor picks the printer for obj's Go type.
func tableKindFor(obj runtime.Object) tableKind {
	switch obj.(type) {
	case *corev1.Pod:
		return podTable
	case *appsv1.Deployment:
		return deploymentTable
	case *appsv1.ReplicaSet:
		return replicaSetTable
	case *corev1.Service:
		return serviceTable
	case *corev1.Endpoints:
		return endpointsTable
	case *discoveryv1.EndpointSlice:
		return endpointSliceTable
	case *networkingv1.Ingress:
		return ingressTable
	case *networkingv1.IngressClass:
		return ingressClassTable
	case *corev1.Namespace:
		return namespaceTable
	case *corev1.Node:
		return nodeTable
	case *corev1.ConfigMap:
		return configMapTable
	case *corev1.Secret:
		return secretTable
	case *corev1.PersistentVolume:
		return persistentVolumeTable
	case *corev1.PersistentVolumeClaim:
		return persistentVolumeClaimTable
	case *storagev1.StorageClass:
		return storageClassTable
	default:
		return genericTable
	}
}

// tableGroup is the objects of one kind, printed as one table.
type tableGroup struct {
	gk   schema.GroupKind
	objs []runtime.Object
}

// groupByKind splits objs by kind, keeping first-appearance order.
func groupByKind(objs []runtime.Object) []*tableGroup {
	var groups []*tableGroup
	index := map[schema.GroupKind]*tableGroup{}
	for _, obj := range objs {
		obj = typed(obj)
		gk := groupKindOf(obj)
		g, ok := index[gk]
		if !ok {
			g = &tableGroup{gk: gk}
			index[gk] = g
			groups = append(groups, g)
		}
		g.objs = append(g.objs, obj)
	}
	return groups
}

// printTables implements the default and wide outputs.
func printTables(w io.Writer, objs []runtime.Object, opts Options) error {
	groups := groupByKind(objs)
	withKind := len(groups) > 1
	ctx := rowContext{now: opts.Now, wide: opts.Output == "wide"}

	var out bytes.Buffer
	for i, g := range groups {
		if i > 0 && !opts.NoHeaders {
			out.WriteByte('\n')
		}
		if err := writeTable(&out, g, withKind, ctx, opts); err != nil {
			return err
		}
	}
	_, err := w.Write(out.Bytes())
	return err
}

// writeTable renders one kind's table like cli-runtime's HumanReadablePrinter:
// NAMESPACE first (namespaced kinds with AllNamespaces), the kind's columns
// (wide ones only with -o wide), LABELS last with ShowLabels.
func writeTable(w io.Writer, g *tableGroup, withKind bool, ctx rowContext, opts Options) error {
	tk := tableKindFor(g.objs[0])
	rows := make([]tableRow, 0, len(g.objs))
	for _, obj := range g.objs {
		cells, err := tk.row(obj, ctx)
		if err != nil {
			return err
		}
		if len(cells) != len(tk.columns) {
			return fmt.Errorf("printer: %d cells for %d columns of %s", len(cells), len(tk.columns), g.gk)
		}
		r := tableRow{cells: cells}
		if acc, err := meta.Accessor(obj); err == nil {
			r.namespace = acc.GetNamespace()
			r.labels = acc.GetLabels()
		}
		rows = append(rows, r)
	}
	withNamespace := opts.AllNamespaces && !isClusterScoped(g.gk, rows)

	tw := tabwriter.NewWriter(w, tableMinWidth, tableTabWidth, tablePadding, tablePadChar, 0)
	if !opts.NoHeaders {
		var header []string
		if withNamespace {
			header = append(header, "NAMESPACE")
		}
		for _, c := range tk.columns {
			if c.wide && !ctx.wide {
				continue
			}
			header = append(header, strings.ToUpper(c.name))
		}
		if opts.ShowLabels {
			header = append(header, "LABELS")
		}
		fmt.Fprintf(tw, "%s\n", strings.Join(header, "\t"))
	}
	for _, r := range rows {
		var cells []string
		if withNamespace {
			cells = append(cells, r.namespace)
		}
		for i, c := range tk.columns {
			if c.wide && !ctx.wide {
				continue
			}
			cell := r.cells[i]
			if i == 0 && withKind {
				cell = qualifiedKind(g.gk) + "/" + cell
			}
			cells = append(cells, cell)
		}
		if opts.ShowLabels {
			cells = append(cells, labels.FormatLabels(r.labels))
		}
		for i := range cells {
			cells[i] = cellText(cells[i])
		}
		fmt.Fprintf(tw, "%s\n", strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// cellText makes a cell terminal-safe like kubectl: it is cut at the first
// line break (\n, \r or \f) with "..." appended, and ESC is shown as "^[".
func cellText(s string) string {
	if !strings.ContainsAny(s, "\f\n\r\x1b") {
		return s
	}
	truncated := false
	if i := strings.IndexAny(s, "\f\n\r"); i >= 0 {
		s, truncated = s[:i], true
	}
	s = strings.ReplaceAll(s, "\x1b", "^[")
	if truncated {
		s += "..."
	}
	return s
}

// genericTable is kubectl's default printer for kinds without their own
// columns: NAME and AGE from the object metadata.
var genericTable = tableKind{
	columns: []column{{name: "Name"}, {name: "Age"}},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		acc, err := meta.Accessor(obj)
		if err != nil {
			return nil, fmt.Errorf("cannot print %T as a table: %w", obj, err)
		}
		return []string{acc.GetName(), Age(acc.GetCreationTimestamp().Time, ctx.now)}, nil
	},
}
