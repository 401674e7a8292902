package object

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// suggestField returns ` (did you mean "replicas"?)` or a list of the fields allowed
// at the parent of path, found by reflection over the kind's Go type.
func suggestField(k *Kind, path string) string {
	segs := splitPath(path)
	if len(segs) == 0 {
		return ""
	}
	t := reflect.TypeOf(k.New())
	for _, s := range segs[:len(segs)-1] {
		t = fieldType(t, s)
		if t == nil {
			return ""
		}
	}
	allowed := jsonFields(t)
	if len(allowed) == 0 {
		return ""
	}
	bad := segs[len(segs)-1]
	best, bestD := "", 3
	for _, a := range allowed {
		if d := distance(strings.ToLower(bad), strings.ToLower(a)); d < bestD {
			best, bestD = a, d
		}
	}
	if best == "" && len(bad) >= 4 {
		for _, a := range allowed {
			if strings.HasPrefix(strings.ToLower(a), strings.ToLower(bad)) {
				best = a
				break
			}
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(allowed) > 16 {
		return fmt.Sprintf(" (%d fields are allowed here, e.g. %s)", len(allowed), strings.Join(allowed[:8], ", "))
	}
	return " (allowed: " + strings.Join(allowed, ", ") + ")"
}

func splitPath(path string) []string {
	var out []string
	for _, s := range strings.Split(path, ".") {
		if i := strings.IndexByte(s, '['); i >= 0 {
			s = s[:i]
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		t = t.Elem()
	}
	return t
}

func fieldType(t reflect.Type, name string) reflect.Type {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Struct {
		if t != nil && t.Kind() == reflect.Map {
			return deref(t.Elem())
		}
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")
		if tag[0] == name {
			return deref(f.Type)
		}
		if f.Anonymous && (tag[0] == "" || len(tag) > 1 && tag[1] == "inline") {
			if ft := fieldType(f.Type, name); ft != nil {
				return ft
			}
		}
	}
	return nil
}

func jsonFields(t reflect.Type) []string {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")
		if f.Anonymous && (tag[0] == "" || len(tag) > 1 && tag[1] == "inline") {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if tag[0] != "" && tag[0] != "-" {
			out = append(out, tag[0])
		}
	}
	sort.Strings(out)
	return out
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
