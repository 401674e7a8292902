package gc

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/projections"
	"github.com/wake-run/wake/services/reconcile"
)

// Decision is the garbage collector without its loop (see reconcile.Decision).
func Decision() reconcile.Decision {
	return reconcile.Decision{Name: "garbage collector", Projection: Projection(), Decide: decideRound, AllOwners: []byte("g\x00")}
}

// decideRound decides for each owner in turn. An object that names several gone
// owners is deleted once, for the first of them.
func decideRound(rd projections.Reader, owners []string, _ time.Time) ([]reconcile.Step, error) {
	var plan []reconcile.Step
	decided := map[events.Ref]bool{}
	for _, owner := range owners {
		cause, dependents, ok, err := loadOwner(rd, owner)
		if err != nil {
			return nil, fmt.Errorf("owner %s: %w", owner, err)
		}
		if !ok {
			continue
		}
		for _, a := range Decide(cause, dependents) {
			if !decided[a.Event.Object] {
				decided[a.Event.Object] = true
				plan = append(plan, reconcile.Step{Owner: owner, Action: a})
			}
		}
	}
	return plan, nil
}

// loadOwner reads a gone owner's cause and dependents; ok is false when no object
// names it any more.
func loadOwner(rd projections.Reader, owner string) (cause events.Event, dependents []Dependent, ok bool, err error) {
	raw, ok, err := rd.Get(goneKey(owner))
	if err != nil || !ok {
		return cause, nil, false, err
	}
	if err := json.Unmarshal(raw, &cause); err != nil {
		return cause, nil, false, err
	}
	prefix := dependentsPrefix(owner)
	var refs []events.Ref
	if err := rd.Scan(prefix, false, func(k, _ []byte) bool {
		parts := strings.SplitN(string(k[len(prefix):]), "\x00", 3)
		if len(parts) == 3 {
			refs = append(refs, events.Ref{Kind: parts[0], Namespace: parts[1], Name: parts[2]})
		}
		return true
	}); err != nil {
		return cause, nil, false, err
	}
	for _, ref := range refs {
		st, err := loadState(rd, objectKey(ref))
		if err != nil {
			return cause, nil, false, err
		}
		if st == nil {
			continue
		}
		d := Dependent{Ref: ref, UID: st.UID, Version: st.Version, Deleting: st.Deleting, Grace: st.Grace}
		for _, o := range st.Owners {
			gone, err := isGone(rd, o)
			if err != nil {
				return cause, nil, false, err
			}
			if !gone {
				d.LiveOwners++
			}
		}
		dependents = append(dependents, d)
	}
	return cause, dependents, true, nil
}
