package containerd

import (
	"strings"

	"github.com/containerd/containerd/v2/pkg/cio"
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
func logTo(path string) cio.Creator {
	file := shellQuote(path)
	script := "trap '' TERM; exec 5>&-; " +
		"/bin/cat <&3 >>" + file + " & /bin/cat <&4 >>" + file + " & wait"
	return cio.BinaryIO("/bin/sh", map[string]string{"-c": script})
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
