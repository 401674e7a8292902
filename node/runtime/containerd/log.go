package containerd

import (
	"context"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
)

// logTo is the task IO that appends the process's standard output and
// error to path, raw and interleaved, from processes the shim owns, so the
// log outlives the agent and a dead agent never blocks the container.
//
// It is not cio.LogFile: with a file, the runc shim (containerd 1.6 to 2.x)
// hands stdout's copier the file itself and stderr's a counted wrapper of
// it, so whichever stream ends first closes the file under the other, and
// the last lines a crashing process writes to stderr are lost. Instead the
// shim starts a logging "binary", /bin/sh, which closes the readiness pipe
// (fd 5) and copies the stdout (fd 3) and stderr (fd 4) pipes with one cat
// each. It ignores the SIGTERM the shim sends when the task is deleted, so
// the copies drain to the end of both pipes, and the shim's wait for it
// makes the deletion return only once the log is complete.
//
// With terminal, the process gets a terminal instead of pipes (the pod spec's
// tty): the shim copies its console to the same logging binary's stdout pipe
// (stderr stays empty), and no stdin is attached, so the terminal never reads
// end of file and a shell waits for input as under Kubernetes.
func logTo(path string, terminal bool) cio.Creator {
	file := shellQuote(path)
	script := "trap '' TERM; exec 5>&-; " +
		"/bin/cat <&3 >>" + file + " & /bin/cat <&4 >>" + file + " & wait"
	if !terminal {
		return cio.BinaryIO("/bin/sh", map[string]string{"-c": script})
	}
	return func(string) (cio.IO, error) {
		uri, err := cio.LogURIGenerator("binary", "/bin/sh", map[string]string{"-c": script})
		if err != nil {
			return nil, err
		}
		return &loggerIO{cio.Config{Stdout: uri.String(), Stderr: uri.String(), Terminal: true}}, nil
	}
}

// loggerIO is task IO the shim handles alone: nothing to copy, wait for or
// close on this side.
type loggerIO struct{ cfg cio.Config }

func (l *loggerIO) Config() cio.Config { return l.cfg }
func (l *loggerIO) Cancel()            {}
func (l *loggerIO) Wait()              {}
func (l *loggerIO) Close() error       { return nil }

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// withTTY gives the process a terminal (and TERM=xterm, as containerd's CRI
// does) when tty is set.
func withTTY(tty bool) oci.SpecOpts {
	if !tty {
		return func(context.Context, oci.Client, *containers.Container, *oci.Spec) error { return nil }
	}
	return oci.WithTTY
}
