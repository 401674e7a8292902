package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wake-run/wake/services/query"
	"k8s.io/apimachinery/pkg/util/validation"
)

// paramError is a bad request parameter; it answers 400 with its message.
type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

func badParam(name, value, allowed string) error {
	return &paramError{fmt.Sprintf("parameter %s=%q: %s", name, value, allowed)}
}

// namespaceParam is the namespace filter: "" (all namespaces) or a namespace name.
func namespaceParam(r *http.Request) (string, error) {
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		return "", nil
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return "", badParam("namespace", ns, "a namespace name (a DNS-1123 label: lower-case letters, digits and '-') or empty for all namespaces")
	}
	return ns, nil
}

// uintParam parses a non-negative integer parameter; absent gives def.
func uintParam(r *http.Request, name string, def, maxValue uint64) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxValue {
		return 0, badParam(name, s, fmt.Sprintf("a whole number from 0 to %d", maxValue))
	}
	return n, nil
}

// viewParams are the namespace filter and the moment every view of the page
// takes.
func viewParams(r *http.Request) (string, query.At, error) {
	ns, err := namespaceParam(r)
	if err != nil {
		return "", query.At{}, err
	}
	at, err := atParam(r)
	return ns, at, err
}

// atParam is the moment asked for: a log sequence, 0 or absent for now.
func atParam(r *http.Request) (query.At, error) {
	seq, err := uintParam(r, "at", 0, 1<<63-1)
	if err != nil {
		return query.At{}, &paramError{err.Error() + " (a log sequence; 0 or absent: now)"}
	}
	return query.At{Seq: seq}, nil
}

// boolParam parses "true"/"false"/"1"/"0"; absent gives false.
func boolParam(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, badParam(name, s, "true or false")
	}
	return b, nil
}

// writeError answers err: 400 for bad parameters, 404 for what does not exist,
// 400 for what the query service calls a bad request, 503 when no query service
// answers, 502 for other failures of the services behind the dashboard.
func (d *Dashboard) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusBadGateway
	var pe *paramError
	var re *query.RemoteError
	switch {
	case errors.As(err, &pe):
		code = http.StatusBadRequest
	case errors.Is(err, query.ErrNotFound):
		code = http.StatusNotFound
	case errors.As(err, &re) && re.Code == query.CodeBadRequest:
		code = http.StatusBadRequest
	case errors.Is(err, query.ErrNoService):
		code = http.StatusServiceUnavailable
	}
	if code >= 500 {
		d.logger.Warn("dashboard request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
	}
	http.Error(w, err.Error(), code)
}
