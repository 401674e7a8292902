package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
)

// bigDeployment is a valid Deployment whose container has one argument of n
// bytes, and label tier=tier.
func bigDeployment(name, tier string, n int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, labels: {tier: %s}}
spec:
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers: [{name: c, image: nginx:1.27, args: [%q]}]
`, name, tier, name, name, strings.Repeat("x", n))
}

func TestOversizedObjectIsRefusedBeforeAnythingOfItsFileIsAppended(t *testing.T) {
	h := newHarness(t)
	before := h.lastSeq()
	f := h.file("big.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: small}\ndata: {a: b}\n---\n"+bigDeployment("big", "web", 2<<20))
	for _, verb := range []string{"apply", "create", "replace"} {
		r := h.fails(verb, "-f", f)
		for _, want := range []string{f + `: document 2 (Deployment "big"): object is too large: 2.0 MiB`, "at most 1.5 MiB (1572864 bytes)", "nothing was applied"} {
			if !strings.Contains(r.errLine, want) {
				t.Errorf("%s: error does not say %q:\n%s", verb, want, r.errLine)
			}
		}
		if r.out != "" {
			t.Errorf("%s: stdout = %q, want nothing written", verb, r.out)
		}
		if after := h.lastSeq(); after != before {
			t.Errorf("%s: a file with one oversized document appended %d events", verb, after-before)
		}
	}
	h.fails("get", "cm", "small")
}

// The largest object wake accepts makes the largest legitimate event: an update
// that carries the object and its applied configuration. The log stores it.
func TestLargestObjectIsStoredCreatedAndUpdated(t *testing.T) {
	h := newHarness(t)
	size := object.MaxObjectBytes - 2048
	h.ok("apply", "-f", h.file("web.yaml", bigDeployment("web", "a", size)))
	r := h.ok("apply", "-f", h.file("web.yaml", bigDeployment("web", "b", size)))
	if !strings.Contains(r.out, "deployment.apps/web configured") {
		t.Fatalf("second apply printed %q, want configured", r.out)
	}
	evs := h.subjectEvents(events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"})
	if len(evs) != 2 {
		t.Fatalf("%d events on the Deployment's subject, want created and updated", len(evs))
	}
	raw, err := json.Marshal(evs[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 2*size || len(raw) > events.MaxEventBytes {
		t.Errorf("update event is %d bytes; want about twice the object (%d) and at most %d", len(raw), size, events.MaxEventBytes)
	}
}

// A Secret at the 1 MiB data limit is stored sealed, created and updated: its
// sealed events fit the log's bound.
func TestLargestSecretIsStoredSealed(t *testing.T) {
	h := newHarness(t)
	value := strings.Repeat("s", 1<<20-16)
	secret := func(label string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: big, labels: {v: %s}}\nstringData: {key: %s}\n", label, value)
	}
	h.ok("apply", "-f", h.file("s.yaml", secret("a")))
	h.ok("apply", "-f", h.file("s.yaml", secret("b")))
	evs := h.subjectEvents(events.Ref{Kind: "Secret", Namespace: "default", Name: "big"})
	if len(evs) != 2 {
		t.Fatalf("%d events on the Secret's subject, want created and updated", len(evs))
	}
	raw, _ := json.Marshal(evs[1])
	if strings.Contains(string(raw), value[:64]) || len(raw) > events.MaxEventBytes {
		t.Errorf("update event is %d bytes (at most %d) and must not hold the plaintext", len(raw), events.MaxEventBytes)
	}
	r := h.fails("apply", "-f", h.file("s.yaml", strings.Replace(secret("c"), value, value+strings.Repeat("s", 64), 1)))
	if !strings.Contains(r.errLine, `s.yaml: document 1 (Secret "big"): data: Too long: may not be more than 1048576 bytes`) {
		t.Errorf("a Secret over 1 MiB of data: %s", r.errLine)
	}
	t.Logf("sealed update event of a 1 MiB Secret: %d bytes", len(raw))
}
