package events_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/wake-run/wake/events"
)

func TestTokenRoundTrip(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"plain name", "web-1", "web-1"},
		{"empty", "", "%"},
		{"dot", ".", "%2E"},
		{"dotted name", "a.b.c", "a%2Eb%2Ec"},
		{"star", "*", "%2A"},
		{"gt", ">", "%3E"},
		{"percent", "%", "%25"},
		{"percent escape lookalike", "%2E", "%252E"},
		{"space", "a b", "a%20b"},
		{"tab", "a\tb", "a%09b"},
		{"newline and cr", "\r\n", "%0D%0A"},
		{"nul and del", "\x00\x7f", "%00%7F"},
		{"unicode kept", "Zürich-日本", "Zürich-日本"},
		{"mixed", "*.>% x", "%2A%2E%3E%25%20x"},
		{"underscore is not the cluster scope here", "_", "_"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := events.EncodeToken(tc.in)
			if got != tc.want {
				t.Fatalf("EncodeToken(%q) = %q, want %q", tc.in, got, tc.want)
			}
			back, err := events.DecodeToken(got)
			if err != nil {
				t.Fatalf("DecodeToken(%q): %v", got, err)
			}
			if back != tc.in {
				t.Fatalf("DecodeToken(EncodeToken(%q)) = %q", tc.in, back)
			}
		})
	}
}

func TestDecodeTokenRejectsBadEscapes(t *testing.T) {
	for _, tok := range []string{"a%", "a%4", "%4", "%zz", "%2e", "x%G1"} {
		if got, err := events.DecodeToken(tok); err == nil {
			t.Errorf("DecodeToken(%q) = %q, want an error", tok, got)
		}
	}
}

// checkToken asserts that tok is usable as one literal token of a published subject.
func checkToken(t *testing.T, in, tok string) {
	t.Helper()
	if tok == "" {
		t.Fatalf("EncodeToken(%q) is empty", in)
	}
	if strings.ContainsAny(tok, ".*> \t\n\r\f\v") {
		t.Fatalf("EncodeToken(%q) = %q contains a separator, wildcard or whitespace", in, tok)
	}
	if subj := "ev.k." + tok + ".n"; !server.IsValidPublishSubject(subj) {
		t.Fatalf("EncodeToken(%q) = %q: %q is not a valid publish subject", in, tok, subj)
	}
	// The server's file store treats a stored subject that is not valid UTF-8, or
	// holds U+FFFD or NUL, as corruption: it discards the stream's index on every
	// restart and rebuilds it from the message blocks.
	if !utf8.ValidString(tok) || strings.ContainsRune(tok, utf8.RuneError) || strings.ContainsRune(tok, 0) {
		t.Fatalf("EncodeToken(%q) = %q is not valid UTF-8 free of U+FFFD and NUL", in, tok)
	}
}

func TestEncodeTokenIsValidUTF8(t *testing.T) {
	for _, in := range []string{"\xff", "a\xc3", "日本\x80", "\uFFFD", "x\xef\xbf\xbdy"} {
		tok := events.EncodeToken(in)
		checkToken(t, in, tok)
		if back, err := events.DecodeToken(tok); err != nil || back != in {
			t.Fatalf("DecodeToken(%q) = %q, %v; want %q", tok, back, err, in)
		}
	}
}

func FuzzToken(f *testing.F) {
	for _, s := range []string{"", ".", "*", ">", "%", " ", "\t", "a.b.c", "web-1", "日本", "%2E", "%%", "\xff", "\uFFFD"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := events.EncodeToken(s)
		checkToken(t, s, tok)
		back, err := events.DecodeToken(tok)
		if err != nil {
			t.Fatalf("DecodeToken(%q): %v", tok, err)
		}
		if back != s {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}

func TestRefSubjectRoundTrip(t *testing.T) {
	cases := []struct {
		ref  events.Ref
		want string
	}{
		{events.Ref{Kind: "pod", Namespace: "default", Name: "web-1"}, "ev.pod.default.web-1"},
		{events.Ref{Kind: "node", Name: "n1"}, "ev.node._.n1"},
		{events.Ref{Kind: "namespace", Name: "kube-system"}, "ev.namespace._.kube-system"},
		{events.Ref{Kind: "configmap", Namespace: "a.b", Name: "x.y.z"}, "ev.configmap.a%2Eb.x%2Ey%2Ez"},
		{events.Ref{Kind: "weird", Namespace: "*", Name: ">"}, "ev.weird.%2A.%3E"},
		{events.Ref{Kind: "pod", Namespace: "ns", Name: ""}, "ev.pod.ns.%"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			got := tc.ref.Subject()
			if got != tc.want {
				t.Fatalf("%v.Subject() = %q, want %q", tc.ref, got, tc.want)
			}
			if !server.IsValidPublishSubject(got) {
				t.Fatalf("%q is not a valid publish subject", got)
			}
			back, err := events.ParseSubject(got)
			if err != nil {
				t.Fatalf("ParseSubject(%q): %v", got, err)
			}
			if back != tc.ref {
				t.Fatalf("ParseSubject(%q) = %+v, want %+v", got, back, tc.ref)
			}
		})
	}
}

func TestRefSubjectLowercasesKind(t *testing.T) {
	ref := events.Ref{Kind: "Deployment", Namespace: "prod", Name: "api"}
	if got := ref.Subject(); got != "ev.deployment.prod.api" {
		t.Fatalf("Subject() = %q", got)
	}
	back, err := events.ParseSubject(ref.Subject())
	if err != nil {
		t.Fatal(err)
	}
	if back.Kind != "deployment" || back.Namespace != "prod" || back.Name != "api" {
		t.Fatalf("ParseSubject gave %+v", back)
	}
}

func TestParseSubjectRejects(t *testing.T) {
	for _, subj := range []string{
		"", "ev", "ev.pod", "ev.pod.ns", "ev.pod.ns.a.b", "xx.pod.ns.a", "ev.pod.ns.%zz", "ev.%4.ns.a", "ev.pod.%.a%",
	} {
		if r, err := events.ParseSubject(subj); err == nil {
			t.Errorf("ParseSubject(%q) = %+v, want an error", subj, r)
		}
	}
}

func TestKindSubjects(t *testing.T) {
	cases := []struct {
		kind, namespace string
		clusterScoped   bool
		want            string
		match, miss     []events.Ref
	}{
		{
			kind: "Pod", namespace: "default", want: "ev.pod.default.*",
			match: []events.Ref{{Kind: "pod", Namespace: "default", Name: "a.b"}},
			miss:  []events.Ref{{Kind: "pod", Namespace: "other", Name: "a"}, {Kind: "service", Namespace: "default", Name: "a"}},
		},
		{
			kind: "pod", want: "ev.pod.*.*",
			match: []events.Ref{{Kind: "pod", Namespace: "x", Name: "a"}, {Kind: "pod", Namespace: "y", Name: "b"}},
			miss:  []events.Ref{{Kind: "podx", Namespace: "x", Name: "a"}},
		},
		{
			kind: "Node", clusterScoped: true, want: "ev.node._.*",
			match: []events.Ref{{Kind: "node", Name: "n1"}},
			miss:  []events.Ref{{Kind: "pod", Name: "n1"}},
		},
		{
			kind: "Node", namespace: "ignored", clusterScoped: true, want: "ev.node._.*",
			match: []events.Ref{{Kind: "node", Name: "n.1"}},
		},
		{
			kind: "configmap", namespace: "a.b", want: "ev.configmap.a%2Eb.*",
			match: []events.Ref{{Kind: "configmap", Namespace: "a.b", Name: "c"}},
			miss:  []events.Ref{{Kind: "configmap", Namespace: "a", Name: "b.c"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			got := events.KindSubjects(tc.kind, tc.namespace, tc.clusterScoped)
			if got != tc.want {
				t.Fatalf("KindSubjects(%q, %q, %v) = %q, want %q", tc.kind, tc.namespace, tc.clusterScoped, got, tc.want)
			}
			if !server.IsValidSubject(got) {
				t.Fatalf("%q is not a valid filter", got)
			}
			for _, r := range tc.match {
				if !server.SubjectMatchesFilter(r.Subject(), got) {
					t.Errorf("%s (%s) does not match %s", r, r.Subject(), got)
				}
			}
			for _, r := range tc.miss {
				if server.SubjectMatchesFilter(r.Subject(), got) {
					t.Errorf("%s (%s) matches %s", r, r.Subject(), got)
				}
			}
		})
	}
}
