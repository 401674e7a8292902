package cli

import (
	"errors"
	"strings"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/services/query"
)

// formatError renders an error the way kubectl users expect.
func formatError(err error) string {
	var nf *query.NotFoundError
	var re *query.RemoteError
	switch {
	case errors.As(err, &nf):
		return "Error from server (NotFound): " + nf.Error()
	case errors.As(err, &re):
		return "Error from server (" + re.Code + "): " + re.Message
	case errors.Is(err, events.ErrConflict):
		return "Error from server (Conflict): " + err.Error()
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "error:") || strings.HasPrefix(msg, "Error from server") {
		return msg
	}
	return "error: " + msg
}
