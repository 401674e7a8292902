package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/object"
)

// together runs the commands at the same moment, each as its own wake process
// would (own connection), and returns their results in order.
func (h *harness) together(cmds ...[]string) []result {
	out := make([]result, len(cmds))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, args := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = h.run(args...)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// conflictRefusal reports whether a failed write says clearly that it lost a race.
func conflictRefusal(r result) bool {
	return strings.Contains(r.errLine, "Conflict") || strings.Contains(r.errLine, "kept changing")
}

// TestConcurrentApplyAndScale: an apply that changes the image and a scale of the
// same Deployment, at the same moment, 20 times. Both changes must be in the final
// object (each retries on conflicts from the newest state), or one must fail saying
// it lost the race; never may one silently undo the other.
func TestConcurrentApplyAndScale(t *testing.T) {
	h := newHarness(t)
	manifest := strings.Replace(webYAML, "  replicas: 3\n", "", 1)
	h.ok("apply", "-f", h.file("web.yaml", manifest))
	ref := events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"}
	image, replicas := "nginx:1.25", float64(1)
	for round := range 20 {
		nextImage := fmt.Sprintf("nginx:1.%d", 100+round)
		nextReplicas := round + 2
		file := h.file(fmt.Sprintf("web-%d.yaml", round), strings.Replace(manifest, "nginx:1.25", nextImage, 1))
		before := len(h.subjectEvents(ref))
		res := h.together(
			[]string{"apply", "-f", file},
			[]string{"scale", "deploy/web", fmt.Sprintf("--replicas=%d", nextReplicas)},
		)
		appended := 0
		for i, r := range res {
			switch {
			case !r.failed():
				appended++
			case !conflictRefusal(r):
				t.Fatalf("round %d: writer %d failed without a clear conflict: %s", round, i, r.errLine)
			}
		}
		if !res[0].failed() {
			image = nextImage
			if res[0].out != "deployment.apps/web configured\n" {
				t.Errorf("round %d: apply printed %q", round, res[0].out)
			}
		}
		if !res[1].failed() {
			replicas = float64(nextReplicas)
		}
		obj := h.getObject("deploy", "web")
		if got := field(obj, "spec.template.spec.containers").([]any)[0].(map[string]any)["image"]; got != image {
			t.Fatalf("round %d: image = %v, want %s: the scale undid the apply", round, got, image)
		}
		if got := field(obj, "spec.replicas"); got != replicas {
			t.Fatalf("round %d: replicas = %v, want %v: the apply undid the scale", round, got, replicas)
		}
		if n := len(h.subjectEvents(ref)) - before; n != appended {
			t.Fatalf("round %d: %d events appended for %d successful writes", round, n, appended)
		}
	}
}

// TestConcurrentApplies: two applies of different changes to the same Deployment
// at the same moment, 20 times. Apply declares the whole object, so the one that
// lands second wins every field it declares (as with kubectl); what must hold is
// that both are in the log in some order (or one failed with a clear conflict),
// and that the final object is exactly what the later one declared.
func TestConcurrentApplies(t *testing.T) {
	h := newHarness(t)
	base := strings.Replace(webYAML, "    app: web\nspec:", "    app: web\n    round: base\nspec:", 1)
	h.ok("apply", "-f", h.file("web.yaml", base))
	ref := events.Ref{Kind: "Deployment", Namespace: "default", Name: "web"}
	for round := range 20 {
		label := fmt.Sprintf("r%d", round)
		image := fmt.Sprintf("nginx:1.%d", 100+round)
		labelFile := h.file(fmt.Sprintf("label-%d.yaml", round), strings.Replace(base, "round: base", "round: "+label, 1))
		imageFile := h.file(fmt.Sprintf("image-%d.yaml", round), strings.Replace(base, "nginx:1.25", image, 1))
		before := len(h.subjectEvents(ref))
		res := h.together([]string{"apply", "-f", labelFile}, []string{"apply", "-f", imageFile})
		succeeded := 0
		for i, r := range res {
			if r.failed() {
				if !conflictRefusal(r) {
					t.Fatalf("round %d: apply %d failed without a clear conflict: %s", round, i, r.errLine)
				}
				continue
			}
			succeeded++
		}
		evs := h.subjectEvents(ref)[before:]
		if len(evs) != succeeded {
			t.Fatalf("round %d: %d events for %d successful applies", round, len(evs), succeeded)
		}
		// Which change each event carries, in log order.
		var order []string
		for _, ev := range evs {
			var ch object.Change
			if err := json.Unmarshal(ev.Payload, &ch); err != nil {
				t.Fatal(err)
			}
			switch applied := string(ch.Applied); {
			case strings.Contains(applied, `"round":"`+label+`"`):
				order = append(order, "label")
			case strings.Contains(applied, image):
				order = append(order, "image")
			default:
				t.Fatalf("round %d: an event carries neither change: %s", round, applied)
			}
		}
		wantLabel, wantImage := "base", "nginx:1.25"
		if order[len(order)-1] == "label" {
			wantLabel = label
		} else {
			wantImage = image
		}
		obj := h.getObject("deploy", "web")
		gotImage := field(obj, "spec.template.spec.containers").([]any)[0].(map[string]any)["image"]
		if got := field(obj, "metadata.labels.round"); got != wantLabel || gotImage != wantImage {
			t.Fatalf("round %d: applied in order %v, final round=%v image=%v; want round=%s image=%s",
				round, order, got, gotImage, wantLabel, wantImage)
		}
		// Reset to the base for the next round.
		h.ok("apply", "-f", h.file("web.yaml", base))
	}
}
