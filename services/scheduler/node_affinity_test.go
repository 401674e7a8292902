package scheduler

import (
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const (
	opIn           = corev1.NodeSelectorOpIn
	opNotIn        = corev1.NodeSelectorOpNotIn
	opExistsNS     = corev1.NodeSelectorOpExists
	opDoesNotExist = corev1.NodeSelectorOpDoesNotExist
	opGt           = corev1.NodeSelectorOpGt
	opLt           = corev1.NodeSelectorOpLt
)

func TestNodeAffinityFilter(t *testing.T) {
	node := makeNode("n1", "1", "1Gi", labelled("zone", "a", "disk", "ssd", "cores", "16", "gen", "v2"))
	fields := func(op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: op, Values: values}}}
	}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		match bool
	}{
		{"no constraints", makePod("p"), true},
		{"nodeSelector matches", makePod("p", selecting("zone", "a", "disk", "ssd")), true},
		{"nodeSelector value differs", makePod("p", selecting("zone", "b")), false},
		{"nodeSelector label missing", makePod("p", selecting("gpu", "")), false},
		{"In", makePod("p", requiring(term(expr("zone", opIn, "b", "a")))), true},
		{"In misses", makePod("p", requiring(term(expr("zone", opIn, "b", "c")))), false},
		{"NotIn", makePod("p", requiring(term(expr("zone", opNotIn, "b")))), true},
		{"NotIn hits", makePod("p", requiring(term(expr("zone", opNotIn, "a")))), false},
		{"NotIn matches a missing label", makePod("p", requiring(term(expr("gpu", opNotIn, "x")))), true},
		{"Exists", makePod("p", requiring(term(expr("disk", opExistsNS)))), true},
		{"Exists misses", makePod("p", requiring(term(expr("gpu", opExistsNS)))), false},
		{"DoesNotExist", makePod("p", requiring(term(expr("gpu", opDoesNotExist)))), true},
		{"DoesNotExist misses", makePod("p", requiring(term(expr("disk", opDoesNotExist)))), false},
		{"Gt", makePod("p", requiring(term(expr("cores", opGt, "8")))), true},
		{"Gt is strict", makePod("p", requiring(term(expr("cores", opGt, "16")))), false},
		{"Lt", makePod("p", requiring(term(expr("cores", opLt, "32")))), true},
		{"Lt misses", makePod("p", requiring(term(expr("cores", opLt, "4")))), false},
		{"Gt on a missing label", makePod("p", requiring(term(expr("ram", opGt, "1")))), false},
		{"Gt on a non-integer node label never matches", makePod("p", requiring(term(expr("gen", opGt, "1")))), false},
		{"Lt on a non-integer node label never matches", makePod("p", requiring(term(expr("gen", opLt, "100")))), false},
		{"expressions of a term are ANDed", makePod("p", requiring(term(expr("zone", opIn, "a"), expr("disk", opIn, "hdd")))), false},
		{"terms are ORed", makePod("p", requiring(term(expr("zone", opIn, "b")), term(expr("disk", opIn, "ssd")))), true},
		{"nodeSelector and affinity are ANDed", makePod("p", selecting("zone", "b"), requiring(term(expr("disk", opExistsNS)))), false},
		{"an empty term matches nothing", makePod("p", requiring(corev1.NodeSelectorTerm{})), false},
		{"no terms match nothing", makePod("p", requiring()), false},
		{"an empty term next to a matching one", makePod("p", requiring(corev1.NodeSelectorTerm{}, term(expr("zone", opIn, "a")))), true},
		{"matchFields In", makePod("p", requiring(fields(opIn, "n1"))), true},
		{"matchFields In misses", makePod("p", requiring(fields(opIn, "n2"))), false},
		{"matchFields NotIn", makePod("p", requiring(fields(opNotIn, "n2"))), true},
		{"matchFields NotIn hits", makePod("p", requiring(fields(opNotIn, "n1"))), false},
		{"matchFields and expressions are ANDed", makePod("p", requiring(corev1.NodeSelectorTerm{
			MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", opIn, "a")},
			MatchFields:      fields(opIn, "n2").MatchFields,
		})), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NodeAffinity{}.Filter(mustPodInfo(t, tt.pod), NewNodeInfo(node))
			if (got == nil) != tt.match {
				t.Errorf("Filter = %v, want match %v", got, tt.match)
			}
			if got != nil && !slices.Equal(got.Reasons(), []string{ReasonNodeAffinity}) {
				t.Errorf("reasons = %q", got.Reasons())
			}
		})
	}
}

func TestNodeAffinityInvalid(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string // a fragment of the error
	}{
		{"Gt with a non-integer value", makePod("p", requiring(term(expr("cores", opGt, "1.5")))),
			"nodeSelectorTerms[0].matchExpressions[0].values[0]: Invalid value: \"1.5\""},
		{"Lt with two values", makePod("p", requiring(term(expr("cores", opLt, "1", "2")))),
			"exactly one value is required"},
		{"In without values", makePod("p", requiring(term(expr("zone", opIn)))),
			"values set can't be empty"},
		{"Exists with values", makePod("p", requiring(term(expr("zone", opExistsNS, "a")))),
			"values set must be empty"},
		{"unknown operator", makePod("p", requiring(term(expr("zone", "Near", "a")))),
			"matchExpressions[0].operator: Unsupported value: \"Near\""},
		{"matchFields on a label", makePod("p", requiring(corev1.NodeSelectorTerm{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.labels", Operator: opIn, Values: []string{"x"}}}})),
			"matchFields[0].key: Unsupported value: \"metadata.labels\""},
		{"matchFields with two names", makePod("p", requiring(corev1.NodeSelectorTerm{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: opIn, Values: []string{"a", "b"}}}})),
			"must have one element"},
		{"preferred term", makePod("p", preferring(10, term(expr("cores", opGt, "x")))),
			"preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].values[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPodInfo(tt.pod)
			if !errors.Is(err, ErrInvalidPod) {
				t.Fatalf("NewPodInfo error = %v, want ErrInvalidPod", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestNodeAffinityScore(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("a-ssd", "1", "1Gi", labelled("zone", "a", "disk", "ssd")),
		makeNode("a-hdd", "1", "1Gi", labelled("zone", "a", "disk", "hdd")),
		makeNode("b-ssd", "1", "1Gi", labelled("zone", "b", "disk", "ssd")),
		makeNode("c", "1", "1Gi", labelled("zone", "c")),
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		raw  []int64
		want []int64
	}{
		{"no preference scores 0 everywhere", makePod("p"), []int64{0, 0, 0, 0}, []int64{0, 0, 0, 0}},
		{"weights of matching terms add up", makePod("p",
			preferring(80, term(expr("zone", opIn, "a"))), preferring(20, term(expr("disk", opIn, "ssd")))),
			[]int64{100, 80, 20, 0}, []int64{100, 80, 20, 0}},
		{"normalised to the best node", makePod("p",
			preferring(3, term(expr("disk", opIn, "ssd"))), preferring(1, term(expr("zone", opIn, "c")))),
			[]int64{3, 0, 3, 1}, []int64{100, 0, 100, 33}},
		{"zero weight and empty terms are ignored", makePod("p",
			preferring(0, term(expr("zone", opIn, "a"))), preferring(5, corev1.NodeSelectorTerm{})),
			[]int64{0, 0, 0, 0}, []int64{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi := mustPodInfo(t, tt.pod)
			scores := make([]int64, len(nodes))
			for i, n := range nodes {
				scores[i] = NodeAffinity{}.Score(pi, NewNodeInfo(n))
			}
			if !slices.Equal(scores, tt.raw) {
				t.Errorf("raw scores = %v, want %v", scores, tt.raw)
			}
			NodeAffinity{}.NormalizeScores(pi, scores)
			if !slices.Equal(scores, tt.want) {
				t.Errorf("normalised scores = %v, want %v", scores, tt.want)
			}
		})
	}
}
