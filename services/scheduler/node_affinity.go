package scheduler

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NodeAffinity rejects nodes that do not match the pod's nodeSelector and its
// required node affinity, and scores nodes by the pod's preferred node affinity:
// the sum of the weights of the preferred terms a node matches, normalised so
// that the best-matching feasible node scores MaxNodeScore.
//
// Semantics are Kubernetes': nodeSelector entries and the expressions of one
// term are ANDed, terms are ORed, a term with no expressions and no fields
// matches nothing; In, NotIn, Exists, DoesNotExist, Gt and Lt on labels (NotIn
// and DoesNotExist match a node without the label; Gt and Lt never match a
// label whose value is not an integer); In and NotIn on the field metadata.name.
type NodeAffinity struct{}

// ReasonNodeAffinity is the reason NodeAffinity gives.
const ReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

var statusNodeAffinity = newStatus("NodeAffinity", ReasonNodeAffinity)

// Name implements FilterPlugin and ScorePlugin.
func (NodeAffinity) Name() string { return "NodeAffinity" }

// Filter implements FilterPlugin.
func (NodeAffinity) Filter(pod *PodInfo, node *NodeInfo) *Status {
	if pod.required != nil && !pod.required.matches(node.node) {
		return statusNodeAffinity
	}
	return nil
}

// Score implements ScorePlugin: the raw score is the sum of the weights of the
// preferred terms the node matches.
func (NodeAffinity) Score(pod *PodInfo, node *NodeInfo) int64 {
	var sum int64
	for i := range pod.preferred {
		if pod.preferred[i].term.matches(node.node) {
			sum += pod.preferred[i].weight
		}
	}
	return sum
}

// NormalizeScores implements ScoreNormalizer.
func (NodeAffinity) NormalizeScores(_ *PodInfo, scores []int64) { normalize(scores, false) }

// requiredAffinity is a pod's nodeSelector and required node affinity, compiled.
type requiredAffinity struct {
	selector    []labelPair // sorted by key
	hasAffinity bool        // required node affinity is set: terms must match
	terms       []nodeSelectorTerm
}

type labelPair struct{ key, value string }

type nodeSelectorTerm struct {
	labels []labels.Requirement
	names  []nameRequirement // matchFields on metadata.name
}

type nameRequirement struct {
	name string
	in   bool // In when true, NotIn when false
}

type preferredTerm struct {
	term   nodeSelectorTerm
	weight int64
}

func (r *requiredAffinity) matches(node *corev1.Node) bool {
	for _, p := range r.selector {
		if v, ok := node.Labels[p.key]; !ok || v != p.value {
			return false
		}
	}
	if !r.hasAffinity {
		return true
	}
	for i := range r.terms {
		if r.terms[i].matches(node) {
			return true
		}
	}
	return false
}

func (t *nodeSelectorTerm) matches(node *corev1.Node) bool {
	nodeLabels := labels.Set(node.Labels)
	for i := range t.labels {
		if !t.labels[i].Matches(nodeLabels) {
			return false
		}
	}
	if node.Name == "" { // As Kubernetes: no fields to match against.
		return true
	}
	for _, n := range t.names {
		if (node.Name == n.name) != n.in {
			return false
		}
	}
	return true
}

var affinityPath = field.NewPath("spec", "affinity", "nodeAffinity")

// compileNodeAffinity compiles the pod's nodeSelector and node affinity. The
// required result is nil when the pod constrains nothing.
func compileNodeAffinity(pod *corev1.Pod) (*requiredAffinity, []preferredTerm, error) {
	var errs []error
	var req *requiredAffinity
	if len(pod.Spec.NodeSelector) > 0 {
		req = &requiredAffinity{}
		for k, v := range pod.Spec.NodeSelector {
			req.selector = append(req.selector, labelPair{key: k, value: v})
		}
		slices.SortFunc(req.selector, func(a, b labelPair) int { return strings.Compare(a.key, b.key) })
	}
	var na *corev1.NodeAffinity
	if pod.Spec.Affinity != nil {
		na = pod.Spec.Affinity.NodeAffinity
	}
	if na == nil {
		return req, nil, nil
	}
	if ns := na.RequiredDuringSchedulingIgnoredDuringExecution; ns != nil {
		if req == nil {
			req = &requiredAffinity{}
		}
		req.hasAffinity = true
		path := affinityPath.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		for i := range ns.NodeSelectorTerms {
			term, ok, err := compileTerm(&ns.NodeSelectorTerms[i], path.Index(i))
			errs = append(errs, err...)
			if ok {
				req.terms = append(req.terms, term)
			}
		}
	}
	var preferred []preferredTerm
	path := affinityPath.Child("preferredDuringSchedulingIgnoredDuringExecution")
	for i, p := range na.PreferredDuringSchedulingIgnoredDuringExecution {
		term, ok, err := compileTerm(&p.Preference, path.Index(i).Child("preference"))
		errs = append(errs, err...)
		if ok && p.Weight != 0 {
			preferred = append(preferred, preferredTerm{term: term, weight: int64(p.Weight)})
		}
	}
	if len(errs) > 0 {
		return nil, nil, utilerrors.NewAggregate(errs)
	}
	return req, preferred, nil
}

// compileTerm compiles one term; ok is false for an empty term, which matches
// nothing and so is dropped.
func compileTerm(t *corev1.NodeSelectorTerm, path *field.Path) (term nodeSelectorTerm, ok bool, errs []error) {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return term, false, nil
	}
	for i, e := range t.MatchExpressions {
		p := path.Child("matchExpressions").Index(i)
		op, known := labelOperators[e.Operator]
		if !known {
			errs = append(errs, field.NotSupported(p.Child("operator"), e.Operator, supportedOperators))
			continue
		}
		r, err := labels.NewRequirement(e.Key, op, e.Values, field.WithPath(p))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		term.labels = append(term.labels, *r)
	}
	for i, f := range t.MatchFields {
		p := path.Child("matchFields").Index(i)
		switch {
		case f.Key != "metadata.name":
			errs = append(errs, field.NotSupported(p.Child("key"), f.Key, []string{"metadata.name"}))
		case f.Operator != corev1.NodeSelectorOpIn && f.Operator != corev1.NodeSelectorOpNotIn:
			errs = append(errs, field.NotSupported(p.Child("operator"), f.Operator,
				[]corev1.NodeSelectorOperator{corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn}))
		case len(f.Values) != 1:
			errs = append(errs, field.Invalid(p.Child("values"), f.Values, "must have one element"))
		default:
			term.names = append(term.names, nameRequirement{name: f.Values[0], in: f.Operator == corev1.NodeSelectorOpIn})
		}
	}
	return term, len(errs) == 0, errs
}

var labelOperators = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

var supportedOperators = []corev1.NodeSelectorOperator{
	corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpExists,
	corev1.NodeSelectorOpDoesNotExist, corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt,
}
