package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wake-run/wake/events"
	"github.com/wake-run/wake/events/eventstest"
	"github.com/wake-run/wake/projections"
)

// The crash tests run a Runner in a child process (this test binary, re-executed
// with -test.run=^TestCrashHelper$) that SIGKILLs itself, then run it again over the
// same Pebble directory until one run completes, and check that every event of the
// log took effect exactly once.
const (
	envChild     = "WAKE_CRASH_CHILD"
	envURL       = "WAKE_CRASH_URL"
	envDir       = "WAKE_CRASH_DIR"
	envTarget    = "WAKE_CRASH_TARGET"     // the sequence to fold up to
	envKillAtSeq = "WAKE_CRASH_KILL_AT"    // die before the first commit reaching this sequence
	envKillAfter = "WAKE_CRASH_KILL_AFTER" // die this long after starting, from a goroutine
	envReport    = "WAKE_CRASH_REPORT"     // where a run that completes writes its crashReport

	crashEvents = 2000
	crashBatch  = 7
)

var (
	startLine  = regexp.MustCompile(`(?m)^start-checkpoint=(\d+)$`)
	commitLine = regexp.MustCompile(`(?m)^committed=(\d+)$`)
)

type crashReport struct {
	Checkpoint uint64      `json:"checkpoint"`
	Rejected   uint64      `json:"rejected"`
	Data       [][2]string `json:"data"`
}

func TestCrashHelper(t *testing.T) {
	if os.Getenv(envChild) == "" {
		t.Skip("runs only as the child process of TestCrash*")
	}
	if after := os.Getenv(envKillAfter); after != "" {
		d, err := time.ParseDuration(after)
		if err != nil {
			t.Fatal(err)
		}
		killer := time.AfterFunc(d, func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) })
		t.Cleanup(func() { killer.Stop() })
	}
	target, err := strconv.ParseUint(os.Getenv(envTarget), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	killAt, _ := strconv.ParseUint(os.Getenv(envKillAtSeq), 10, 64)

	nc, err := nats.Connect(os.Getenv(envURL))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	log, err := events.NewLog(nc, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := projections.Open(os.Getenv(envDir), countProjection(), log,
		projections.WithLogger(testLogger(t)),
		projections.WithBatchSize(crashBatch),
		projections.WithBeforeCommit(func(seq uint64) {
			if killAt > 0 && seq >= killAt {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}),
		// Unbuffered: the parent sees every commit announced before the kill (which may
		// still lose the newest of them: commits are not synced).
		projections.WithAfterCommit(func(seq uint64) { fmt.Printf("committed=%d\n", seq) }))
	if err != nil {
		t.Fatal(err)
	}
	checkAtomic(t, r)
	fmt.Printf("start-checkpoint=%d\n", r.Checkpoint())
	rn := run(t, r)
	rn.waitFor(t, target)
	data, cp := dump(t, r)
	report, err := json.Marshal(crashReport{Checkpoint: cp, Rejected: r.Status().Rejected, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv(envReport), report, 0o600); err != nil {
		t.Fatal(err)
	}
}

type crashFixture struct {
	srv    *eventstest.Server
	dir    string
	report string
	seqs   []uint64
	bad    map[uint64]bool
}

func newCrashFixture(t *testing.T) *crashFixture {
	srv := eventstest.Start(t)
	bad := []int{3, 999, crashEvents - 1}
	f := &crashFixture{srv: srv, dir: t.TempDir(), bad: map[uint64]bool{}}
	f.report = filepath.Join(t.TempDir(), "report.json")
	f.seqs = appendEvents(t, testContext(t), srv.Log, newEvents(t, crashEvents, 50, bad...))
	for _, i := range bad {
		f.bad[f.seqs[i]] = true
	}
	return f
}

// childRun is what the parent learns of one child run.
type childRun struct {
	started   bool   // it opened the projection
	start     uint64 // at this checkpoint
	committed uint64 // the last commit it announced (start if none)
	killed    bool
}

// runChild runs one child; any failure of the child other than its SIGKILL fails
// the test.
func (f *crashFixture) runChild(t *testing.T, env ...string) childRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envChild+"=1", envURL+"="+f.srv.NS.ClientURL(), envDir+"="+f.dir,
		envReport+"="+f.report, fmt.Sprintf("%s=%d", envTarget, f.seqs[len(f.seqs)-1]))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	var run childRun
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled() &&
		exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL && ctx.Err() == nil:
		run.killed = true
	default:
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if m := startLine.FindSubmatch(out); m != nil {
		run.started = true
		run.start, _ = strconv.ParseUint(string(m[1]), 10, 64)
		run.committed = run.start
		if all := commitLine.FindAllSubmatch(out, -1); len(all) > 0 {
			run.committed, _ = strconv.ParseUint(string(all[len(all)-1][1]), 10, 64)
		}
	} else if !run.killed {
		t.Fatalf("child printed no start checkpoint:\n%s", out)
	}
	return run
}

// checkExactlyOnce reads the report of the run that completed.
func (f *crashFixture) checkExactlyOnce(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(f.report)
	if err != nil {
		t.Fatal(err)
	}
	var rep crashReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	last := f.seqs[len(f.seqs)-1]
	if rep.Checkpoint != last || rep.Rejected != uint64(len(f.bad)) {
		t.Fatalf("final checkpoint %d with %d rejections, want %d with %d", rep.Checkpoint, rep.Rejected, last, len(f.bad))
	}
	applied := map[uint64]string{}
	total, perSubject := "", 0
	for _, kv := range rep.Data {
		var seq uint64
		switch {
		case kv[0] == "total":
			total = kv[1]
		case strings.HasPrefix(kv[0], "count/"):
			n, _ := strconv.Atoi(kv[1])
			perSubject += n
		case strings.HasPrefix(kv[0], "seq/"):
			if seq, err = strconv.ParseUint(kv[0][len("seq/"):], 10, 64); err != nil {
				t.Fatalf("key %q: %v", kv[0], err)
			}
			applied[seq] = kv[1]
		default:
			t.Fatalf("unexpected key %q", kv[0])
		}
	}
	want := len(f.seqs) - len(f.bad)
	for _, seq := range f.seqs {
		n, ok := applied[seq]
		switch {
		case f.bad[seq] && ok:
			t.Fatalf("rejected seq %d was applied", seq)
		case !f.bad[seq] && n != "1":
			t.Fatalf("seq %d applied %q times, want once", seq, n)
		}
	}
	if len(applied) != want || total != strconv.Itoa(want) || perSubject != want {
		t.Fatalf("%d distinct sequences applied, total %s, per-subject sum %d; want %d each", len(applied), total, perSubject, want)
	}
}

// checkAtomic checks what a crash left: every sequence up to the checkpoint was
// applied once or rejected, and nothing after it (a batch is all or nothing).
func checkAtomic(t *testing.T, r *projections.Runner) {
	t.Helper()
	data, cp := dump(t, r)
	applied, total := 0, "0"
	for _, kv := range data {
		switch {
		case kv[0] == "total":
			total = kv[1]
		case strings.HasPrefix(kv[0], "seq/"):
			applied++
			if kv[1] != "1" || kv[0] > fmt.Sprintf("seq/%020d", cp) {
				t.Fatalf("at checkpoint %d: %s=%s", cp, kv[0], kv[1])
			}
		}
	}
	if rejected := r.Status().Rejected; uint64(applied)+rejected != cp || total != strconv.Itoa(applied) {
		t.Fatalf("at checkpoint %d: %d applied, %d rejected, total %s", cp, applied, rejected, total)
	}
}

// cleanStart runs a child that folds up to the 300th event and stops cleanly, so its
// commits are durable: no later run may start before them.
func (f *crashFixture) cleanStart(t *testing.T) childRun {
	t.Helper()
	run := f.runChild(t, fmt.Sprintf("%s=%d", envTarget, f.seqs[299]))
	if run.killed || run.committed < f.seqs[299] {
		t.Fatalf("clean partial run: %+v", run)
	}
	return childRun{started: true, start: run.committed, committed: run.committed}
}

// The child dies just before the commit that reaches a chosen sequence. Commits
// are not synced, so a kill may lose the newest ones (Pebble keeps up to a WAL
// block in memory): the next run resumes at or before the last commit the killed
// run announced, and never before where that run started.
func TestCrashBeforeCommit(t *testing.T) {
	f := newCrashFixture(t)
	last := f.seqs[len(f.seqs)-1]
	prev := f.cleanStart(t)
	resumes := func(run childRun) {
		t.Helper()
		if run.start < prev.start || run.start > prev.committed {
			t.Fatalf("a run started at %d and announced commit %d; the next run started at checkpoint %d", prev.start, prev.committed, run.start)
		}
	}
	progress := []string{fmt.Sprint("clean 0..", prev.committed)}
	// Kill points are relative to where the previous run got: an unsynced kill may
	// leave the next run anywhere between that run's start and its last announcement.
	for _, ahead := range []uint64{1, 2, 400, 1, 700, 3} {
		killAt := min(prev.committed+ahead, last)
		if killAt <= prev.committed {
			break
		}
		run := f.runChild(t, fmt.Sprintf("%s=%d", envKillAtSeq, killAt))
		if !run.killed || !run.started || run.committed >= killAt {
			t.Fatalf("the run to be killed before committing seq %d: %+v", killAt, run)
		}
		resumes(run)
		prev = run
		progress = append(progress, fmt.Sprintf("%d..%d", run.start, run.committed))
	}
	run := f.runChild(t)
	if run.killed {
		t.Fatal("the final run was killed")
	}
	resumes(run)
	t.Logf("runs (started..announced): %v, then the last from %d", progress, run.start)
	f.checkExactlyOnce(t)
}

// The child dies at a random moment, from a goroutine: during Open, a fold, a
// Pebble commit or anywhere else. A run resumes no earlier than the previous one
// started, and no later than one batch after the previous one's last announced
// commit (a commit can land just before the kill, unannounced).
func TestCrashAtRandomMoments(t *testing.T) {
	f := newCrashFixture(t)
	crashes := 0
	prev := f.cleanStart(t)
	for attempt := 0; ; attempt++ {
		if attempt == 20 {
			t.Fatalf("no run completed in %d attempts", attempt)
		}
		delay := rand.N(10 * time.Millisecond << attempt)
		run := f.runChild(t, envKillAfter+"="+delay.String())
		if run.started {
			if run.start < prev.start || run.start > prev.committed+crashBatch {
				t.Fatalf("attempt %d started from checkpoint %d; the previous run started at %d and announced %d",
					attempt, run.start, prev.start, prev.committed)
			}
			prev = run
		}
		if !run.killed {
			break
		}
		crashes++
	}
	t.Logf("%d crashes before a run completed", crashes)
	if crashes == 0 {
		t.Fatal("no run was killed: the test exercised no crash")
	}
	f.checkExactlyOnce(t)
}
