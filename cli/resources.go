package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wake-run/wake/events/object"
)

// target is one kind and, optionally, names of it, from arguments such as
// "deploy", "deploy web api", "deploy/web", "deploy,svc".
type target struct {
	kind  *object.Kind
	names []string
}

func parseTargets(args []string) ([]target, error) {
	if len(args) == 0 {
		return nil, errors.New("you must specify the type of resource: " + kindHint())
	}
	if strings.Contains(args[0], "/") {
		var out []target
		for _, a := range args {
			kind, name, ok := strings.Cut(a, "/")
			if !ok || name == "" {
				return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'wake get deploy/web')")
			}
			k, err := object.Lookup(kind)
			if err != nil {
				return nil, err
			}
			out = append(out, target{kind: k, names: []string{name}})
		}
		return out, nil
	}
	var out []target
	kinds := strings.Split(args[0], ",")
	if args[0] == "all" {
		kinds = []string{"pods", "services", "deployments", "replicasets"} // kubectl's "all"
	}
	for _, kind := range kinds {
		k, err := object.Lookup(kind)
		if err != nil {
			return nil, err
		}
		out = append(out, target{kind: k, names: args[1:]})
	}
	if len(out) > 1 && len(args) > 1 {
		return nil, errors.New("names cannot be given with several resource types; use TYPE/NAME")
	}
	return out, nil
}

func kindHint() string {
	var s []string
	for _, k := range object.Kinds() {
		n := k.Resource
		if len(k.Short) > 0 {
			n += " (" + k.Short[0] + ")"
		}
		s = append(s, n)
	}
	return strings.Join(s, ", ")
}
