package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/query"
	"github.com/wake-run/wake/services/secrets"
	"github.com/wake-run/wake/services/servicenet"
	corev1 "k8s.io/api/core/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// Mode is what a write does when the object exists or not.
type Mode int

const (
	ModeApply   Mode = iota // create or three-way merge
	ModeCreate              // fail if it exists
	ModeReplace             // fail if it does not exist; replace metadata and spec
)

// Result reports one document's outcome, as kubectl prints it.
type Result struct {
	Doc     *object.Document
	Outcome string // created, configured, unchanged, replaced
	Seq     uint64 // sequence of the appended event (0 when unchanged)
}

// String is kubectl's line: "deployment.apps/web created".
func (r Result) String() string {
	return r.Doc.Kind.Qualified(r.Doc.Object.GetName()) + " " + r.Outcome
}

// ErrAlreadyExists and ErrNamespace are wrapped by refusals callers may branch on.
var (
	ErrAlreadyExists = errors.New("already exists")
	ErrNamespace     = errors.New("namespace unavailable")
)

// SetNamespace gives every namespaced document its namespace: the manifest's, or
// ns (the -n flag, "default" when empty). A manifest naming another namespace than
// an explicit -n is refused, as kubectl does.
func SetNamespace(docs []object.Document, ns string, explicit bool) error {
	if ns == "" {
		ns = "default"
	}
	for i := range docs {
		d := &docs[i]
		if !d.Kind.Namespaced {
			d.Object.SetNamespace("")
			continue
		}
		switch own := d.Object.GetNamespace(); {
		case own == "":
			d.Object.SetNamespace(ns)
		case explicit && own != ns:
			return fmt.Errorf("%s: the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation", d.Where(), own, ns, own)
		}
	}
	return nil
}

// Write applies, creates or replaces one document, retrying on version conflicts
// from the newest state. It appends nothing when the object is unchanged.
func (c *Client) Write(ctx context.Context, doc *object.Document, mode Mode) (Result, error) {
	k := doc.Kind
	if mode == ModeCreate && doc.Object.GetName() == "" && doc.Object.GetGenerateName() != "" {
		doc.Object.SetName(doc.Object.GetGenerateName() + utilrand.String(5))
	}
	name, ns := doc.Object.GetName(), doc.Object.GetNamespace()
	if name == "" {
		return Result{}, fmt.Errorf("%s: metadata.name: Required value (generateName is only for `create`)", doc.Where())
	}
	if k.Namespaced {
		if err := c.namespaceUsable(ctx, ns); err != nil {
			return Result{}, fmt.Errorf("%s: %w", doc.Where(), err)
		}
	}
	ref := events.Ref{Kind: k.Kind, Namespace: ns, Name: name}
	for attempt := 0; attempt < c.MaxAttempts; attempt++ {
		// A Service's write is guarded by every Service (read before the
		// Service and the list it allocates from): see servicenet.
		var guard uint64
		if k.Kind == "Service" {
			var err error
			if guard, err = c.Log.FilterVersion(ctx, servicesFilter); err != nil {
				return Result{}, err
			}
		}
		cur, err := c.Query.Get(ctx, k, ns, name)
		var nf *query.NotFoundError
		var version uint64
		switch {
		case errors.As(err, &nf):
			version = nf.Version
			cur = nil
		case err != nil:
			return Result{}, err
		default:
			version = subjectVersion(cur)
		}
		outcome, change, err := decide(doc, cur, mode)
		if err != nil {
			return Result{}, err
		}
		if change == nil {
			return Result{Doc: doc, Outcome: outcome}, nil
		}
		if k.Kind == "Service" {
			if change.Object, err = c.allocate(ctx, doc, cur, change.Object); err != nil {
				return Result{}, err
			}
		}
		if k.Kind == "Secret" {
			if change.Object, change.Applied, err = secrets.Seal(ctx, c.NC, change.Object, change.Applied); err != nil {
				return Result{}, err
			}
		}
		verb := object.Updated
		if cur == nil {
			verb = object.Created
		}
		ev, err := c.newEvent(object.EventType(k, verb), ref, change)
		if err != nil {
			return Result{}, err
		}
		var seq uint64
		if k.Kind == "Service" {
			seq, err = c.Log.AppendGuardedBy(ctx, ev, guard, servicesFilter)
		} else {
			seq, err = c.Log.Append(ctx, ev, version)
		}
		if errors.Is(err, events.ErrConflict) {
			continue
		}
		if err != nil {
			return Result{}, err
		}
		return Result{Doc: doc, Outcome: outcome, Seq: seq}, nil
	}
	return Result{}, fmt.Errorf("%s: %s kept changing under %d attempts; try again", doc.Where(), k.Qualified(name), c.MaxAttempts)
}

// servicesFilter matches every Service's subject: what a Service's write is
// guarded by, since the addresses it allocates must be unique among them all.
var servicesFilter = events.KindSubjects("Service", "", false)

// allocate gives the Service in raw (the object a change stores) what its type
// needs from the service network, given every other Service the log holds
// (servicenet.Network.Allocate). cur is the stored Service (nil: none). A
// refusal names the document and the field, as a validation error does.
func (c *Client) allocate(ctx context.Context, doc *object.Document, cur *object.Stored, raw json.RawMessage) (json.RawMessage, error) {
	k := doc.Kind
	obj, err := object.DecodeObject(k, raw)
	if err != nil {
		return nil, err
	}
	svc := obj.(*corev1.Service)
	var prev *corev1.Service
	if cur != nil {
		prev = cur.Object.(*corev1.Service)
	}
	network, err := c.Query.Network(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: the service network to allocate from: %w", doc.Where(), err)
	}
	all, _, err := c.Query.List(ctx, k, "", "")
	if err != nil {
		return nil, err
	}
	services := make([]*corev1.Service, 0, len(all))
	for _, o := range all {
		services = append(services, o.(*corev1.Service))
	}
	if errs := network.Allocate(svc, prev, servicenet.TakenBy(services, svc.Namespace, svc.Name)); len(errs) > 0 {
		d := &object.DocumentError{Source: doc.Source, Index: doc.Index, Item: doc.Item, Kind: k.Kind, Name: svc.Name}
		for _, e := range errs {
			d.Errors = append(d.Errors, e.Error())
		}
		return nil, d
	}
	return json.Marshal(svc)
}

func decide(doc *object.Document, cur *object.Stored, mode Mode) (string, *object.Change, error) {
	k := doc.Kind
	switch mode {
	case ModeCreate:
		if cur != nil {
			return "", nil, fmt.Errorf("%w: %s: %s %q already exists", ErrAlreadyExists, doc.Where(), k.Resource, doc.Object.GetName())
		}
		outcome, ch, err := object.Apply(doc, nil, uuid.NewUUID())
		if ch != nil {
			ch.Applied = nil // create records no last-applied configuration, as kubectl
		}
		return outcome, ch, err
	case ModeReplace:
		if cur == nil {
			return "", nil, fmt.Errorf("%w: %s: %s %q not found", query.ErrNotFound, doc.Where(), k.Resource, doc.Object.GetName())
		}
		ch, err := object.Replace(doc, cur)
		return "replaced", ch, err
	}
	return object.Apply(doc, cur, uuid.NewUUID())
}

// namespaceUsable refuses writes into a namespace that does not exist or is being
// deleted.
func (c *Client) namespaceUsable(ctx context.Context, ns string) error {
	k, _ := object.ByKind("Namespace")
	st, err := c.Query.Get(ctx, k, "", ns)
	if errors.Is(err, query.ErrNotFound) {
		return fmt.Errorf("%w: namespaces %q not found (create it with `wake create namespace %s`)", ErrNamespace, ns, ns)
	}
	if err != nil {
		return err
	}
	if st.Object.(*corev1.Namespace).Status.Phase == corev1.NamespaceTerminating {
		return fmt.Errorf("%w: unable to create new content in namespace %s because it is being terminated", ErrNamespace, ns)
	}
	return nil
}
