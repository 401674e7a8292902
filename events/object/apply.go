package object

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// Outcomes of Apply, as kubectl prints them.
const (
	OutcomeCreated    = "created"
	OutcomeConfigured = "configured"
	OutcomeUnchanged  = "unchanged"
)

// Apply decides what applying doc to the current object yields, as kubectl's
// client-side apply does: a three-way merge of the last applied configuration, the
// newly declared one, and the current object. Fields the manifest declares replace
// the current ones; fields it stopped declaring are removed; fields it never
// declared (set by scale, by controllers, by defaults) survive.
//
// current is nil when the object does not exist; uid is used only then. The doc's
// object must already carry its final namespace. Apply returns the outcome and, unless
// unchanged, the Change to append as a created or updated event. It is pure.
func Apply(doc *Document, current *Stored, uid types.UID) (string, *Change, error) {
	k := doc.Kind
	declared, err := withNamespace(doc.Declared, doc.Object.GetNamespace())
	if err != nil {
		return "", nil, err
	}
	if current == nil {
		obj := doc.Object.DeepCopyObject().(Object)
		obj.SetUID(uid)
		raw, err := json.Marshal(obj)
		if err != nil {
			return "", nil, err
		}
		return OutcomeCreated, &Change{Object: raw, Applied: declared}, nil
	}
	currentJSON, err := json.Marshal(current.Object)
	if err != nil {
		return "", nil, err
	}
	meta, err := strategicpatch.NewPatchMetaFromStruct(k.New())
	if err != nil {
		return "", nil, fmt.Errorf("apply %s: %w", k.Kind, err)
	}
	patch, err := strategicpatch.CreateThreeWayMergePatch(current.LastApplied, declared, currentJSON, meta, true)
	if err != nil {
		return "", nil, docError(doc, fmt.Sprintf("cannot merge with the current object: %v", err))
	}
	merged, err := strategicpatch.StrategicMergePatchUsingLookupPatchMeta(currentJSON, patch, meta)
	if err != nil {
		return "", nil, docError(doc, fmt.Sprintf("cannot merge with the current object: %v", err))
	}
	next, err := DecodeObject(k, merged)
	if err != nil {
		return "", nil, err
	}
	dropTypeDependentFields(current.Object, next)
	Default(next)
	errs := Validate(next)
	errs = append(errs, ValidateUpdate(current.Object, next)...)
	if len(errs) > 0 {
		d := &DocumentError{Source: doc.Source, Index: doc.Index, Item: doc.Item, Kind: k.Kind, Name: next.GetName()}
		for _, e := range errs {
			d.Errors = append(d.Errors, e.Error())
		}
		return "", nil, d
	}
	if equality.Semantic.DeepEqual(next, current.Object) {
		return OutcomeUnchanged, nil, nil
	}
	setStatus(next, nil)
	raw, err := json.Marshal(next)
	if err != nil {
		return "", nil, err
	}
	return OutcomeConfigured, &Change{Object: raw, Applied: declared}, nil
}

// Replace returns the Change that replaces current's metadata and spec with doc's
// (kubectl replace): nothing of the old spec survives but the fields the system
// owns. It refuses immutable-field changes.
func Replace(doc *Document, current *Stored) (*Change, error) {
	next := doc.Object.DeepCopyObject().(Object)
	next.SetUID(current.Object.GetUID())
	keepSystemSpec(current.Object, next)
	if errs := ValidateUpdate(current.Object, next); len(errs) > 0 {
		d := &DocumentError{Source: doc.Source, Index: doc.Index, Item: doc.Item, Kind: doc.Kind.Kind, Name: next.GetName()}
		for _, e := range errs {
			d.Errors = append(d.Errors, e.Error())
		}
		return nil, d
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	return &Change{Object: raw}, nil
}

func docError(doc *Document, msg string) error {
	return &DocumentError{Source: doc.Source, Index: doc.Index, Item: doc.Item, Kind: doc.Kind.Kind, Name: doc.Object.GetName(), Errors: []string{msg}}
}

func withNamespace(declared json.RawMessage, ns string) (json.RawMessage, error) {
	if ns == "" {
		return declared, nil
	}
	var m map[string]any
	if err := json.Unmarshal(declared, &m); err != nil {
		return nil, err
	}
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		m["metadata"] = md
	}
	md["namespace"] = ns
	return json.Marshal(m)
}
