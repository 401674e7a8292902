// Command testreport runs `go test -json ...`, prints what a developer reads
// from a plain `go test` (each package's result line, and the whole output of
// every failing test), then a summary of how many tests passed, failed and
// were skipped, with each skip's reason.
//
// With CI set (CI=true), a test skipped because the machine lacks something
// (its skip message carries hosttest's "wake-needs:" marker) fails the run:
// CI must never pass with a part of wake untested.
//
//	testreport go test -json -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// skipMarker is node/host/hosttest.SkipMarker (this module cannot import
// wake's).
const skipMarker = "wake-needs:"

// event is one line of test2json.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type result struct {
	pkg, test string
	reason    string
}

type report struct {
	out                     io.Writer
	output                  map[string][]string // package/test -> its output lines so far
	passed, failed, skipped []result
}

func key(pkg, test string) string { return pkg + "\x00" + test }

func (r *report) add(e event) {
	k := key(e.Package, e.Test)
	switch e.Action {
	case "output", "build-output":
		if e.Test == "" {
			// Package lines: ok/FAIL/? summaries, build errors, panics
			// outside a test. Pass them through as go test prints them.
			if e.Action == "build-output" || (!strings.HasPrefix(e.Output, "=== ") && e.Output != "PASS\n") {
				fmt.Fprint(r.out, e.Output)
			}
			return
		}
		r.output[k] = append(r.output[k], e.Output)
	case "pass":
		if e.Test != "" {
			r.passed = append(r.passed, result{pkg: e.Package, test: e.Test})
			delete(r.output, k)
		}
	case "skip":
		if e.Test != "" {
			r.skipped = append(r.skipped, result{pkg: e.Package, test: e.Test, reason: skipReason(r.output[k])})
			delete(r.output, k)
		}
	case "fail":
		if e.Test != "" {
			r.failed = append(r.failed, result{pkg: e.Package, test: e.Test})
			for _, line := range r.output[k] {
				fmt.Fprint(r.out, line)
			}
			delete(r.output, k)
		}
	}
}

// skipReason is what the test logged besides the framework's own lines.
func skipReason(lines []string) string {
	var reason []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		reason = append(reason, t)
	}
	return strings.Join(reason, " ")
}

// summarise prints the counts and every skip; it returns the skips CI must
// not accept.
func (r *report) summarise(ci bool) (unmet []result) {
	fmt.Fprintf(r.out, "\ntests: %d passed, %d failed, %d skipped\n", len(r.passed), len(r.failed), len(r.skipped))
	sort.Slice(r.skipped, func(i, j int) bool {
		return key(r.skipped[i].pkg, r.skipped[i].test) < key(r.skipped[j].pkg, r.skipped[j].test)
	})
	for _, s := range r.skipped {
		fmt.Fprintf(r.out, "  skipped %s %s: %s\n", s.pkg, s.test, s.reason)
		if ci && strings.Contains(s.reason, skipMarker) {
			unmet = append(unmet, s)
		}
	}
	for _, f := range r.failed {
		fmt.Fprintf(r.out, "  FAILED %s %s\n", f.pkg, f.test)
	}
	return unmet
}

func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "0" && v != "false"
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testreport go test -json [flags] [packages]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stderr = os.Stderr
	cmd.Stdin = nil
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r := &report{out: os.Stdout, output: map[string][]string{}}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Println(sc.Text()) // not test2json: print as it came
			continue
		}
		r.add(e)
	}
	runErr := cmd.Wait()
	unmet := r.summarise(inCI())
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(runErr, &exitErr):
		code = exitErr.ExitCode()
	case runErr != nil:
		fmt.Fprintln(os.Stderr, "testreport:", runErr)
		code = 2
	}
	if len(unmet) > 0 {
		fmt.Printf("FAIL: CI skipped %d test(s) for something this machine lacks; deploy/setup-debian.sh must install it\n", len(unmet))
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
