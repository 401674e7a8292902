package printer

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
)

// Columns returns the headers of the table kubectl prints with -o wide for
// obj's kind, upper case as kubectl prints them ("NAME", "READY", ...). Only
// the kind of obj matters: an empty object of the kind gives the headers of an
// empty list.
func Columns(obj runtime.Object) []string {
	tk := tableKindFor(typed(obj))
	out := make([]string, len(tk.columns))
	for i, c := range tk.columns {
		out[i] = strings.ToUpper(c.name)
	}
	return out
}

// Cells returns obj's row of the -o wide table, one cell per Columns(obj), made
// terminal-safe as kubectl does; ages count to now. It is for programs that lay
// the table out themselves (the dashboard) and want kubectl's cell semantics
// (pod status, ready counts, ages) without reimplementing them.
func Cells(obj runtime.Object, now time.Time) ([]string, error) {
	obj = typed(obj)
	tk := tableKindFor(obj)
	cells, err := tk.row(obj, rowContext{now: now, wide: true})
	if err != nil {
		return nil, err
	}
	if len(cells) != len(tk.columns) {
		return nil, fmt.Errorf("printer: %d cells for %d columns of %T", len(cells), len(tk.columns), obj)
	}
	for i := range cells {
		cells[i] = cellText(cells[i])
	}
	return cells, nil
}
