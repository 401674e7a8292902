package reconcile

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/projections"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Owned is the projection layout, the folds and the decision round of a
// controller whose owners control objects of another kind in their namespace: a
// ReplicaSet its pods, a Deployment its ReplicaSets. An owner is
// "<namespace>\x00<name>" of an object of the Owner kind; a child is an object of
// the Child kind whose controller reference may name an owner's uid.
//
// Keys:
//
//	<OwnerPrefix>\x00<owner>                 -> the owner (object.Stored)
//	u\x00<owner uid>                          -> owner
//	<ChildPrefix>\x00<namespace>\x00<name>    -> the child (object.Stored)
//	x\x00<namespace>\x00<name>                -> version of the child's deletion (tombstone)
//	i\x00<owner uid>\x00<namespace>\x00<name> -> "" (the child is controlled by the owner)
//	m\x00<owner> -> the spec cause; e\x00<owner> -> the cause (see Touch)
//
// and the touch log (t\x00, c\x00). A controller's own keys use other prefixes.
type Owned struct {
	// Actor is the controller's identity: its own events are never causes.
	Actor       string
	Owner       *object.Kind
	Child       *object.Kind
	OwnerPrefix string // one letter
	ChildPrefix string // one letter
}

// OwnerOf is the owner key of the object namespace/name.
func OwnerOf(namespace, name string) string { return namespace + "\x00" + name }

// AllOwners is the prefix of every owner's key: Config.AllOwners.
func (o *Owned) AllOwners() []byte { return []byte(o.OwnerPrefix + "\x00") }

// OwnerKey is where owner is stored.
func (o *Owned) OwnerKey(owner string) []byte { return []byte(o.OwnerPrefix + "\x00" + owner) }

// ChildKey is where the child namespace/name is stored.
func (o *Owned) ChildKey(ns, name string) []byte {
	return []byte(o.ChildPrefix + "\x00" + ns + "\x00" + name)
}

func uidKey(uid string) []byte            { return []byte("u\x00" + uid) }
func tombstoneKey(ns, name string) []byte { return []byte("x\x00" + ns + "\x00" + name) }
func ownedPrefix(uid string) []byte       { return []byte("i\x00" + uid + "\x00") }
func ownedKey(uid, ns, name string) []byte {
	return append(ownedPrefix(uid), ns+"\x00"+name...)
}
func causeKey(owner string) []byte     { return []byte("e\x00" + owner) }
func specCauseKey(owner string) []byte { return []byte("m\x00" + owner) }

// Touch records that ev touched owner (the touch log) and, unless the controller
// appended ev itself, keeps ev without its payload as the owner's cause, and as
// its spec cause too when spec says ev changed what the controller creates or
// deletes (the owner's spec, or which children count toward it).
func (o *Owned) Touch(s projections.State, owner string, ev *events.Event, spec bool) error {
	if err := Touch(s, owner, ev.Seq); err != nil {
		return err
	}
	if ev.Actor == o.Actor {
		return nil
	}
	cause := *ev
	cause.Payload = nil
	data, err := json.Marshal(cause)
	if err != nil {
		return err
	}
	if spec {
		if err := s.Set(specCauseKey(owner), data); err != nil {
			return err
		}
	}
	return s.Set(causeKey(owner), data)
}

// Forget removes owner from the touch log and drops its causes.
func (o *Owned) Forget(s projections.State, owner string) error {
	if err := Forget(s, owner); err != nil {
		return err
	}
	if err := s.Delete(specCauseKey(owner)); err != nil {
		return err
	}
	return s.Delete(causeKey(owner))
}

// Causes returns owner's cause and spec cause (zero when none).
func (o *Owned) Causes(rd projections.Reader, owner string) (cause, specCause events.Event, err error) {
	for _, c := range []struct {
		key []byte
		ev  *events.Event
	}{{causeKey(owner), &cause}, {specCauseKey(owner), &specCause}} {
		raw, ok, err := rd.Get(c.key)
		if err != nil {
			return cause, specCause, err
		}
		if ok {
			if err := json.Unmarshal(raw, c.ev); err != nil {
				return cause, specCause, err
			}
		}
	}
	return cause, specCause, nil
}

// FoldOwner folds an event about an owner: it stores the owner, indexes its uid
// and touches it, with ev as spec cause when the owner is new or specChanged; a
// deletion removes all of that. It returns the owner before and after ev (nil:
// absent) for what the controller keeps besides. It is pure over s.
func (o *Owned) FoldOwner(s projections.State, ev *events.Event, specChanged func(prev, next *object.Stored) bool) (prev, next *object.Stored, err error) {
	owner := OwnerOf(ev.Object.Namespace, ev.Object.Name)
	if prev, err = Load(s, o.Owner, o.OwnerKey(owner)); err != nil {
		return nil, nil, err
	}
	if next, err = object.Fold(prev, ev); err != nil {
		return nil, nil, err
	}
	if next == nil {
		if prev != nil {
			if err := s.Delete(uidKey(string(prev.Object.GetUID()))); err != nil {
				return nil, nil, err
			}
		}
		if err := s.Delete(o.OwnerKey(owner)); err != nil {
			return nil, nil, err
		}
		return prev, nil, o.Forget(s, owner)
	}
	if prev == nil {
		if err := s.Set(uidKey(string(next.Object.GetUID())), []byte(owner)); err != nil {
			return nil, nil, err
		}
	}
	if err := Save(s, o.OwnerKey(owner), next); err != nil {
		return nil, nil, err
	}
	return prev, next, o.Touch(s, owner, ev, prev == nil || specChanged(prev, next))
}

// FoldChild folds an event about a child: it stores the child (a tombstone with
// the deletion's sequence once it is gone), keeps the owner index, and touches
// the owners in its namespace that controlled it before or after ev, with ev as
// their spec cause when counts (nil: never) says ev changed which children count.
// created, when not nil, is called for the owner a new child names as controller.
// A node's report about a child that does not exist is ignored. It is pure over s.
func (o *Owned) FoldChild(s projections.State, ev *events.Event, counts func(prev, next *object.Stored) bool,
	created func(s projections.State, uid string) error) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	prev, err := Load(s, o.Child, o.ChildKey(ns, name))
	if err != nil {
		return err
	}
	if prev == nil && ev.Object.Node != "" {
		return nil // a node's report about an object that no longer exists
	}
	next, err := object.Fold(prev, ev)
	if err != nil {
		return err
	}
	prevOwner, nextOwner := ControllerUID(prev), ControllerUID(next)
	if err := o.storeChild(s, ev, prev, next, prevOwner, nextOwner); err != nil {
		return err
	}
	spec := counts != nil && counts(prev, next)
	for i, uid := range []string{prevOwner, nextOwner} {
		if uid == "" || i == 1 && uid == prevOwner {
			continue
		}
		owner, ok, err := s.Get(uidKey(uid))
		if err != nil {
			return err
		}
		if !ok || !strings.HasPrefix(string(owner), ns+"\x00") {
			continue // not an owner this projection knows, or in another namespace
		}
		if created != nil && prev == nil && uid == nextOwner {
			if err := created(s, uid); err != nil {
				return err
			}
		}
		if err := o.Touch(s, string(owner), ev, spec); err != nil {
			return err
		}
	}
	return nil
}

// storeChild writes the child, its tombstone and its owner index entry.
func (o *Owned) storeChild(s projections.State, ev *events.Event, prev, next *object.Stored, prevOwner, nextOwner string) error {
	ns, name := ev.Object.Namespace, ev.Object.Name
	if prevOwner != "" && prevOwner != nextOwner {
		if err := s.Delete(ownedKey(prevOwner, ns, name)); err != nil {
			return err
		}
	}
	if next == nil {
		if err := s.Delete(o.ChildKey(ns, name)); err != nil {
			return err
		}
		return s.Set(tombstoneKey(ns, name), []byte(strconv.FormatUint(ev.Seq, 10)))
	}
	if err := Save(s, o.ChildKey(ns, name), next); err != nil {
		return err
	}
	if prev == nil {
		if err := s.Delete(tombstoneKey(ns, name)); err != nil {
			return err
		}
	}
	if nextOwner == "" {
		return nil
	}
	return s.Set(ownedKey(nextOwner, ns, name), []byte{})
}

// NameState reports what the log holds under a child's name: the version of the
// child's deletion when no live child holds it (0: never used), and whether a
// live one does.
func (o *Owned) NameState(rd projections.Reader, ns, name string) (version uint64, live bool, err error) {
	if _, live, err := rd.Get(o.ChildKey(ns, name)); err != nil || live {
		return 0, live, err
	}
	raw, ok, err := rd.Get(tombstoneKey(ns, name))
	if err != nil || !ok {
		return 0, false, err
	}
	v, err := strconv.ParseUint(string(raw), 10, 64)
	return v, false, err
}

// OwnerState is what the projection holds of one owner.
type OwnerState struct {
	*object.Stored
	Key string // the owner's key, "<namespace>\x00<name>"
	// Children are the children in its namespace whose controller reference
	// names its uid.
	Children []*object.Stored
	// Cause and SpecCause are as Touch recorded them.
	Cause, SpecCause events.Event
	// Names is NameState in the owner's namespace; a read error it meets makes
	// the round fail.
	Names func(name string) (version uint64, live bool)

	namesErr *error
}

// Load reads owner's state; ok is false when the owner does not exist.
func (o *Owned) Load(rd projections.Reader, owner string) (st OwnerState, ok bool, err error) {
	stored, err := Load(rd, o.Owner, o.OwnerKey(owner))
	if err != nil || stored == nil {
		return st, false, err
	}
	st = OwnerState{Stored: stored, Key: owner, namesErr: new(error)}
	ns := stored.Object.GetNamespace()
	prefix := ownedPrefix(string(stored.Object.GetUID()))
	var keys []string
	if err := rd.Scan(prefix, false, func(k, _ []byte) bool {
		keys = append(keys, string(k[len(prefix):]))
		return true
	}); err != nil {
		return st, false, err
	}
	for _, k := range keys {
		childNS, name, _ := strings.Cut(k, "\x00")
		if childNS != ns {
			continue // a controller reference across namespaces controls nothing
		}
		child, err := Load(rd, o.Child, o.ChildKey(childNS, name))
		if err != nil {
			return st, false, err
		}
		if child != nil {
			st.Children = append(st.Children, child)
		}
	}
	if st.Cause, st.SpecCause, err = o.Causes(rd, owner); err != nil {
		return st, false, err
	}
	errp := st.namesErr
	st.Names = func(name string) (uint64, bool) {
		v, live, err := o.NameState(rd, ns, name)
		*errp = errors.Join(*errp, err)
		return v, live
	}
	return st, true, nil
}

// Projection is the projection named name that folds fold over the owner and
// child kinds' events and those on the extra subjects, at version 1.
func (o *Owned) Projection(name string, fold projections.Fold, extra ...string) projections.Projection {
	subjects := append([]string{events.KindSubjects(o.Owner.Kind, "", false), events.KindSubjects(o.Child.Kind, "", false)}, extra...)
	return projections.Projection{Name: name, Subjects: subjects, Version: 1, Fold: fold, Prepare: object.Prepare}
}

// Decision is the controller named name whose projection p folds o's records
// and whose rounds run decide for each touched owner (see Round).
func (o *Owned) Decision(name string, p projections.Projection, decide func(rd projections.Reader, st OwnerState, now time.Time) ([]Action, error)) Decision {
	return Decision{Name: name, Projection: p, Decide: o.Round(decide), AllOwners: o.AllOwners()}
}

// Round is the DecideFunc that decides for each owner in turn: decide gets the
// state of each owner that exists and returns its actions. It must be pure.
func (o *Owned) Round(decide func(rd projections.Reader, st OwnerState, now time.Time) ([]Action, error)) DecideFunc {
	return func(rd projections.Reader, owners []string, now time.Time) ([]Step, error) {
		var plan []Step
		for _, owner := range owners {
			st, ok, err := o.Load(rd, owner)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", strings.ToLower(o.Owner.Kind), strings.ReplaceAll(owner, "\x00", "/"), err)
			}
			if !ok {
				continue
			}
			actions, err := decide(rd, st, now)
			if err = errors.Join(err, *st.namesErr); err != nil {
				return nil, fmt.Errorf("%s %s: %w", strings.ToLower(o.Owner.Kind), strings.ReplaceAll(owner, "\x00", "/"), err)
			}
			for _, a := range actions {
				if a.Event == nil {
					plan = append(plan, Step{Owner: owner, Wake: a.Wake})
					continue
				}
				plan = append(plan, Step{Owner: owner, Action: a})
			}
		}
		return plan, nil
	}
}

// ControllerUID is the uid of the object's controller, "" when it has none.
func ControllerUID(st *object.Stored) string {
	if st == nil {
		return ""
	}
	if ref := metav1.GetControllerOfNoCopy(st.Object); ref != nil {
		return string(ref.UID)
	}
	return ""
}

// Load reads the object of kind k stored under key; nil when there is none.
func Load(rd projections.Reader, k *object.Kind, key []byte) (*object.Stored, error) {
	raw, ok, err := rd.Get(key)
	if err != nil || !ok {
		return nil, err
	}
	return object.DecodeStored(k, raw)
}

// Save stores st under key without its last-applied manifest: a controller never
// merges manifests.
func Save(s projections.State, key []byte, st *object.Stored) error {
	st.LastApplied = nil
	data, err := st.Encode()
	if err != nil {
		return err
	}
	return s.Set(key, data)
}

// DerivedUID returns a UUID (version 8: derived by hashing) unique to seed, for an
// object a controller creates: a retried decision names the same uid.
func DerivedUID(seed string) types.UID {
	sum := sha256.Sum256([]byte(seed))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}
