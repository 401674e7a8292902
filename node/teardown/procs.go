package teardown

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one entry of /proc.
type process struct {
	pid, ppid int
	args      []string
}

// processes lists the live processes (zombies excluded: they have exited).
func processes() []process {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []process
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		ppid, state, ok := stat(pid)
		if !ok || state == 'Z' || state == 'X' {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || len(cmd) == 0 {
			continue
		}
		out = append(out, process{pid: pid, ppid: ppid, args: strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")})
	}
	return out
}

// stat reads a process's parent and state from /proc/<pid>/stat.
func stat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0][0], true
}

// flagValue is the argument after flag in args, "" when absent.
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// daemonPIDs are the containerd processes started with configPath.
func daemonPIDs(ps []process, configPath string) []int {
	var out []int
	for _, p := range ps {
		if filepath.Base(p.args[0]) == "containerd" && flagValue(p.args, "--config") == configPath {
			out = append(out, p.pid)
		}
	}
	return out
}

// shimPIDs are the containerd shims serving socket for namespace.
func shimPIDs(ps []process, socket, namespace string) []int {
	var out []int
	for _, p := range ps {
		if strings.HasPrefix(filepath.Base(p.args[0]), "containerd-shim") && flagValue(p.args, "-address") == socket &&
			flagValue(p.args, "-namespace") == namespace {
			out = append(out, p.pid)
		}
	}
	return out
}

// descendants are the processes under the given ones, deepest last.
func descendants(ps []process, roots []int) []int {
	var out []int
	frontier := roots
	for len(frontier) > 0 {
		var next []int
		for _, p := range ps {
			if slices.Contains(frontier, p.ppid) {
				next = append(next, p.pid)
			}
		}
		out = append(out, next...)
		frontier = next
	}
	return out
}

// alive reports whether pid runs (a zombie has exited).
func alive(pid int) bool {
	_, state, ok := stat(pid)
	return ok && state != 'Z' && state != 'X'
}

// terminate sends SIGTERM to pids, waits up to grace for them to exit,
// then kills those left and waits for them. It reports the PIDs still
// alive at the end (none, unless the kernel cannot kill them).
func terminate(pids []int, grace time.Duration) []int {
	signal := func(sig syscall.Signal) {
		for _, pid := range pids {
			_ = syscall.Kill(pid, sig) // ESRCH: already gone
		}
	}
	wait := func(d time.Duration) []int {
		deadline := time.Now().Add(d)
		for {
			var left []int
			for _, pid := range pids {
				if alive(pid) {
					left = append(left, pid)
				}
			}
			if len(left) == 0 || time.Now().After(deadline) {
				return left
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if grace > 0 {
		signal(syscall.SIGTERM)
		if len(wait(grace)) == 0 {
			return nil
		}
	}
	signal(syscall.SIGKILL)
	return wait(5 * time.Second)
}
