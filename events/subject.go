package events

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Subject layout of the stream of record:
//
//	ev.<kind>.<namespace>.<name>              an object
//	ev.node.<node>.<kind>.<namespace>.<name>  its facet in a node's inbox
//
// kind is the lowercase kind; cluster-scoped objects use ClusterScope in the
// namespace position. Tokens are encoded with EncodeToken, so any name maps to one
// token. Because the namespace is always the third token of an object subject, one
// wildcard grants a namespace (ev.*.<ns>.*) or a kind (ev.<kind>.>); a node's inbox
// is ev.node.<node>.> (NodeInbox), which no object subject matches: object subjects
// have four tokens and Node objects use ClusterScope as their third.
const (
	Prefix = "ev"
	// ClusterScope is the namespace token of cluster-scoped objects. "_" can never
	// be a namespace name (DNS-1123 label), so it cannot collide.
	ClusterScope = "_"
	// AllSubjects matches every event of the stream of record.
	AllSubjects = Prefix + ".>"
)

// Subject returns the subject that carries r's events.
func (r Ref) Subject() string {
	ns := ClusterScope
	if r.Namespace != "" {
		ns = EncodeToken(r.Namespace)
	}
	tail := EncodeToken(strings.ToLower(r.Kind)) + "." + ns + "." + EncodeToken(r.Name)
	if r.Node != "" {
		return Prefix + ".node." + EncodeToken(r.Node) + "." + tail
	}
	return Prefix + "." + tail
}

// NodeInbox is the filter of every event addressed to node: what its agent consumes.
func NodeInbox(node string) string { return Prefix + ".node." + EncodeToken(node) + ".>" }

// KindSubjects returns the filter for every object of kind in namespace (all
// namespaces when namespace is empty and the kind is namespaced).
func KindSubjects(kind, namespace string, clusterScoped bool) string {
	ns := "*"
	if clusterScoped {
		ns = ClusterScope
	} else if namespace != "" {
		ns = EncodeToken(namespace)
	}
	return Prefix + "." + EncodeToken(strings.ToLower(kind)) + "." + ns + ".*"
}

// ParseSubject is the inverse of Ref.Subject. The kind comes back lowercase.
func ParseSubject(subject string) (Ref, error) {
	parts := strings.Split(subject, ".")
	var r Ref
	var err error
	if len(parts) == 6 && parts[0] == Prefix && parts[1] == "node" {
		if r.Node, err = DecodeToken(parts[2]); err != nil {
			return Ref{}, err
		}
		parts = append([]string{Prefix}, parts[3:]...)
	}
	if len(parts) != 4 || parts[0] != Prefix {
		return Ref{}, fmt.Errorf("subject %q is not ev.<kind>.<namespace>.<name> or ev.node.<node>.<kind>.<namespace>.<name>", subject)
	}
	if r.Kind, err = DecodeToken(parts[1]); err != nil {
		return Ref{}, err
	}
	if parts[2] != ClusterScope {
		if r.Namespace, err = DecodeToken(parts[2]); err != nil {
			return Ref{}, err
		}
	}
	if r.Name, err = DecodeToken(parts[3]); err != nil {
		return Ref{}, err
	}
	return r, nil
}

// EncodeToken maps any string to a valid NATS subject token, reversibly. Bytes that
// are illegal in a token ('.', '*', '>', whitespace, control bytes) and '%' itself
// are percent-encoded with upper-case hex; everything else is kept, so typical
// Kubernetes names stay readable (web-1 -> web-1, a.b -> a%2Eb). The empty string
// encodes to "%".
func EncodeToken(s string) string {
	if s == "" {
		return "%"
	}
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || (size == 1 && escapeByte(s[i])) {
			// Invalid UTF-8 and U+FFFD are escaped too: the server's file store
			// treats stored subjects holding them as corruption.
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// DecodeToken is the inverse of EncodeToken.
func DecodeToken(tok string) (string, error) {
	if tok == "%" {
		return "", nil
	}
	if !strings.Contains(tok, "%") {
		return tok, nil
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		if tok[i] != '%' {
			b.WriteByte(tok[i])
			continue
		}
		if i+2 >= len(tok) {
			return "", fmt.Errorf("subject token %q: truncated escape", tok)
		}
		var v byte
		for _, h := range []byte{tok[i+1], tok[i+2]} {
			v <<= 4
			switch {
			case h >= '0' && h <= '9':
				v |= h - '0'
			case h >= 'A' && h <= 'F':
				v |= h - 'A' + 10
			default:
				return "", fmt.Errorf("subject token %q: bad escape", tok)
			}
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), nil
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if escapeByte(s[i]) {
			return true
		}
	}
	return !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError)
}

func escapeByte(c byte) bool {
	return c <= ' ' || c == '.' || c == '*' || c == '>' || c == '%' || c == 0x7f
}
