package cli

import (
	"errors"
	"strings"

	"github.com/wake-run/wake/services/query"
)

var errNotFound = query.ErrNotFound

// joinNotFound renders several missing objects as kubectl does: one line each.
func joinNotFound(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	var lines []string
	for _, e := range errs {
		lines = append(lines, formatError(e))
	}
	return errors.New(strings.Join(lines, "\n"))
}
