package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/wake-run/wake/node/host"
	"github.com/wake-run/wake/node/host/hosttest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/wake-run/wake/cli"
)

// chromium is the browser of the end-to-end test; the test skips only where it
// is not installed (CI installs it: task setup-test).
func chromium(t *testing.T) string {
	t.Helper()
	hosttest.Require(t, host.Chromium)
	return host.Chromium.Path()
}

// browser is a headless Chromium tab; it and its process end with the test.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.Headless, chromedp.WindowSize(1400, 1000))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser process to exit
	})
	// The first run starts the browser and must not carry a timeout (it would
	// stop the browser with it).
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start chromium: %v", err)
		}
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatal("chromium did not start within 15s")
	}
	return &browser{t: t, ctx: ctx}
}

// do runs steps within timeout, failing the test with what was being done.
func (b *browser) do(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds, or fails the test with
// the page's state as diagnosis.
func (b *browser) waitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for !eval[bool](b, cond) {
		if time.Now().After(deadline) {
			b.screenshot("failed")
			b.t.Fatalf("%s: not within %v (%s); pods shown: %s; error banner: %q", what, timeout, cond,
				eval[string](b, `[...document.querySelectorAll("#pods tbody tr")].map(r => r.dataset.name).join(" ")`),
				eval[string](b, `document.getElementById("error").textContent`))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the whole page as a PNG to $WAKE_TEST_ARTIFACTS (or the
// temporary directory) and logs where.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot: %v", err)
		return
	}
	dir := os.Getenv("WAKE_TEST_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("dashboard-%s-%s.png", name, time.Now().Format("20060102-150405")))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("save screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot of the dashboard (%s): %s", name, path)
}

// webPods counts the rows of the pods table that belong to deployment web.
const webPods = `document.querySelectorAll('#pods tbody tr[data-name^="web-"]').length`

// TestPageFollowsAScaleFromTheCLI is the dashboard end to end: a Deployment of 2
// shows 2 pods; `wake scale` to 4 shows 4 without reloading the page; the
// timeline slider moved to before the scale shows 2 again.
func TestPageFollowsAScaleFromTheCLI(t *testing.T) {
	b := newBrowser(t)
	cl := startCluster(t, true)
	cl.apply(t, deploymentYAML("default", "web", 2))

	b.do("open the dashboard", 10*time.Second, chromedp.Navigate(cl.srv.HTTPURL()+"/"))
	b.waitFor("the page shows the 2 pods of web", webPods+` === 2`, 10*time.Second)
	b.waitFor("the page is live", `document.getElementById("status").textContent === "live"`, 5*time.Second)
	eval[bool](b, `(window.wakeMarker = "set before the scale", true)`)
	beforeScale, err := cl.srv.Log().LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	root := cli.NewRoot(&out, &errOut)
	root.SetArgs([]string{"scale", "deploy/web", "--replicas=4", "--server", cl.srv.ClientURL(), "--credentials", cl.srv.AdminCredentials()})
	if err := root.Execute(); err != nil {
		t.Fatalf("wake scale deploy/web --replicas=4: %v\n%s", err, errOut.String())
	}
	b.waitFor("the page shows the 4 pods of web after the scale", webPods+` === 4`, 10*time.Second)
	b.waitFor("the rollout shows 4 desired", `document.querySelector("#deployments tbody tr[data-name=web]").textContent.includes("/4 ready")`, 5*time.Second)
	if loads, marker, navs := eval[string](b, `document.body.dataset.loads`), eval[string](b, `window.wakeMarker || ""`),
		eval[int](b, `performance.getEntriesByType("navigation").length`); loads != "1" || marker == "" || navs != 1 {
		t.Errorf("the page was reloaded: loads %q (want 1), marker %q (want kept), navigations %d (want 1)", loads, marker, navs)
	}
	b.screenshot("scaled")

	// The timeline: the page at the sequence before the scale, through the
	// time-travel query.
	eval[bool](b, fmt.Sprintf(`(s => { s.value = "%d"; s.dispatchEvent(new Event("input")); return true })(document.getElementById("slider"))`, beforeScale))
	b.waitFor("the page shows 2 pods at the sequence before the scale", webPods+` === 2`, 10*time.Second)
	b.waitFor("the page says it shows the past", `document.getElementById("status").textContent === "past"`, 5*time.Second)
	b.screenshot("past")
	b.do("return to live", 5*time.Second, chromedp.Click(chromedp.CSS("#live")))
	b.waitFor("the page shows 4 pods again when live", webPods+` === 4`, 10*time.Second)
}
