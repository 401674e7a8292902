package dashboard

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/events/object/printer"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// view is one table of the page: a resource and the columns of kubectl's
// -o wide table it keeps, in kubectl's order.
type view struct {
	resource string
	columns  []string
}

// shown is what the page lists.
var shown = []view{
	{"namespaces", []string{"NAME", "STATUS", "AGE"}},
	{"nodes", []string{"NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"}},
	{"deployments", []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "IMAGES"}},
	{"pods", []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"}},
	{"services", []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"}},
	{"endpoints", []string{"NAME", "ENDPOINTS", "AGE"}},
}

// nodeCapacity are the columns the page adds to nodes: what kubectl describe
// shows under Capacity.
var nodeCapacity = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods}

// Table is one kind's table as the page shows it. Cells are kubectl's
// (events/object/printer), so a pod's STATUS reads as `wake get pods` prints it.
type Table struct {
	Resource string `json:"resource"`
	Kind     string `json:"kind"`
	// Columns are the headers; NAMESPACE comes first for a namespaced kind
	// listed across all namespaces, as with kubectl -A.
	Columns []string `json:"columns"`
	Rows    []Row    `json:"rows"`
	// Seq is the log sequence the table reflects.
	Seq uint64 `json:"seq"`
}

// Row is one object of a Table.
type Row struct {
	Namespace string   `json:"namespace,omitempty"`
	Name      string   `json:"name"`
	Cells     []string `json:"cells"`
	// Rollout is set for deployments.
	Rollout *Rollout `json:"rollout,omitempty"`
}

// Rollout is a deployment's progress: replicas ready, updated to the current
// template, and available, against the desired count.
type Rollout struct {
	Desired   int32 `json:"desired"`
	Ready     int32 `json:"ready"`
	Updated   int32 `json:"updated"`
	Available int32 `json:"available"`
}

// resources lists what /api/tables serves, for error messages.
func resources() string {
	var names []string
	for _, s := range shown {
		names = append(names, s.resource)
	}
	return strings.Join(names, ", ")
}

func (d *Dashboard) serveTable(w http.ResponseWriter, r *http.Request) {
	resource := r.PathValue("resource")
	idx := slices.IndexFunc(shown, func(v view) bool { return v.resource == resource })
	if idx < 0 {
		d.writeError(w, r, badParam("resource", resource, "one of "+resources()))
		return
	}
	ns, at, err := viewParams(r)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	k, _ := object.Lookup(resource)
	objs, seq, err := d.c.Query.ListAt(r.Context(), k, ns, "", at)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	now := d.now()
	if !at.IsZero() {
		// A past view counts ages to its own moment, as `wake get --at` does.
		if rec, err := d.c.Log.Get(r.Context(), seq); err == nil {
			now = rec.Time
		}
	}
	t, err := d.table(k, shown[idx].columns, objs, k.Namespaced && ns == "", now)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	t.Seq = seq
	writeJSON(w, t)
}

// table lays objs out in the given kubectl columns, sorted by namespace and
// name, with a NAMESPACE column first when allNamespaces.
func (d *Dashboard) table(k *object.Kind, columns []string, objs []object.Object, allNamespaces bool, now time.Time) (*Table, error) {
	all := printer.Columns(k.New())
	pick := make([]int, len(columns))
	for i, c := range columns {
		pick[i] = slices.Index(all, c)
	}
	t := &Table{Resource: k.Resource, Kind: k.Kind, Rows: []Row{}}
	if allNamespaces {
		t.Columns = append(t.Columns, "NAMESPACE")
	}
	t.Columns = append(t.Columns, columns...)
	if k.Kind == "Node" {
		for _, res := range nodeCapacity {
			t.Columns = append(t.Columns, strings.ToUpper(string(res)))
		}
	}
	slices.SortFunc(objs, func(a, b object.Object) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
	for _, o := range objs {
		cells, err := printer.Cells(o, now)
		if err != nil {
			return nil, err
		}
		row := Row{Namespace: o.GetNamespace(), Name: o.GetName()}
		if allNamespaces {
			row.Cells = append(row.Cells, o.GetNamespace())
		}
		for _, i := range pick {
			row.Cells = append(row.Cells, cells[i])
		}
		row.Cells = append(row.Cells, extraCells(o)...)
		row.Rollout = rollout(o)
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// extraCells are the cells the page adds after kubectl's: a node's capacity.
func extraCells(o runtime.Object) []string {
	n, ok := o.(*corev1.Node)
	if !ok {
		return nil
	}
	var cells []string
	for _, res := range nodeCapacity {
		q, ok := n.Status.Capacity[res]
		if !ok {
			cells = append(cells, "<none>")
			continue
		}
		cells = append(cells, q.String())
	}
	return cells
}

func rollout(o runtime.Object) *Rollout {
	dep, ok := o.(*appsv1.Deployment)
	if !ok {
		return nil
	}
	desired := int32(1)
	if dep.Spec.Replicas != nil {
		desired = *dep.Spec.Replicas
	}
	return &Rollout{Desired: desired, Ready: dep.Status.ReadyReplicas, Updated: dep.Status.UpdatedReplicas, Available: dep.Status.AvailableReplicas}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
