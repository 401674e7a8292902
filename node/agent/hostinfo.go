// Host facts the Node reports, read from /proc and /etc.

package agent

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// memTotal is the host's memory in bytes, from /proc/meminfo (0 when unreadable).
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
			return kb * 1024
		}
	}
	return 0
}

// osImage is the PRETTY_NAME of /etc/os-release ("linux" when unreadable).
func osImage() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "linux"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "linux"
}
