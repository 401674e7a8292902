package teardown

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Portmap's top-level chains in the nat table, shared by every CNI network
// of the host that maps ports.
const (
	hostportDNAT    = "CNI-HOSTPORT-DNAT"
	hostportSetmark = "CNI-HOSTPORT-SETMARK"
	hostportMasq    = "CNI-HOSTPORT-MASQ"
)

// ruleSet is what a table's cleanup does: rules to delete (the arguments
// after -A, to give to -D) and then chains to flush and delete.
type ruleSet struct {
	rules  [][]string
	chains []string
}

func (s ruleSet) empty() bool { return len(s.rules) == 0 && len(s.chains) == 0 }

// networkRules picks, from `iptables -S` output, the rules the CNI plugins
// made for network (bridge's ipMasq and portmap both comment theirs with
// `name: "<network>"`) or that name cidr in a CNI chain, and the per-pod
// CNI-* chains those rules jump to. Portmap's top-level chains are never
// picked: other networks share them.
func networkRules(lines []string, network, cidr string) ruleSet {
	var s ruleSet
	mark := fmt.Sprintf("name: %q", network)
	for _, line := range lines {
		args := splitRule(line)
		if len(args) < 2 || args[0] != "-A" {
			continue
		}
		chain, target := args[1], ruleTarget(args)
		ours := false
		for i, a := range args {
			if a == "--comment" && i+1 < len(args) && strings.Contains(args[i+1], mark) {
				ours = true
			}
			if a == cidr && (strings.HasPrefix(chain, "CNI-") || strings.HasPrefix(target, "CNI-")) {
				ours = true
			}
		}
		if !ours {
			continue
		}
		s.rules = append(s.rules, args[1:])
		if strings.HasPrefix(target, "CNI-") && !strings.HasPrefix(target, "CNI-HOSTPORT-") && !slices.Contains(s.chains, target) {
			s.chains = append(s.chains, target)
		}
	}
	return s
}

// hostportRules picks portmap's top-level chains and the rules jumping to
// them, when CNI-HOSTPORT-DNAT maps no port any more (no network uses
// them). inUse reports that it still maps some.
func hostportRules(lines []string) (s ruleSet, inUse bool) {
	exists := false
	for _, line := range lines {
		args := splitRule(line)
		if len(args) < 2 {
			continue
		}
		switch {
		case args[0] == "-N" && args[1] == hostportDNAT:
			exists = true
		case args[0] == "-A" && args[1] == hostportDNAT:
			inUse = true
		}
	}
	if !exists || inUse {
		return ruleSet{}, inUse
	}
	top := []string{hostportDNAT, hostportSetmark, hostportMasq}
	for _, line := range lines {
		args := splitRule(line)
		if len(args) < 2 {
			continue
		}
		switch {
		case args[0] == "-A" && !slices.Contains(top, args[1]) && slices.Contains(top, ruleTarget(args)):
			s.rules = append(s.rules, args[1:])
		case args[0] == "-N" && slices.Contains(top, args[1]):
			s.chains = append(s.chains, args[1])
		}
	}
	return s, false
}

// ruleTarget is the chain or target after -j (or -g), "" when none.
func ruleTarget(args []string) string {
	for i, a := range args {
		if (a == "-j" || a == "-g") && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// splitRule splits a line of `iptables -S` into arguments as a shell
// would: double quotes group, and a backslash inside them escapes the next
// character (comments print as "name: \"net\" id: \"x\"").
func splitRule(line string) []string {
	var out []string
	var cur strings.Builder
	inQuote, inArg := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inQuote, inArg = !inQuote, true
		case !inQuote && (c == ' ' || c == '\t'):
			if inArg {
				out = append(out, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		out = append(out, cur.String())
	}
	return out
}

// iptables runs the iptables command on table.
type iptables struct{ table string }

func (t iptables) list(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "iptables", "-w", "-t", t.table, "-S").Output()
	if err != nil {
		return nil, fmt.Errorf("iptables -t %s -S: %w", t.table, err)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n"), nil
}

// apply deletes the rules, then flushes and deletes the chains; it goes on
// after an error and returns the first.
func (t iptables) apply(ctx context.Context, s ruleSet) error {
	var first error
	run := func(args ...string) {
		out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", t.table}, args...)...).CombinedOutput()
		if err != nil && first == nil {
			first = fmt.Errorf("iptables -t %s %s: %v: %s", t.table, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	for _, r := range s.rules {
		run(append([]string{"-D"}, r...)...)
	}
	for _, c := range s.chains {
		run("-F", c)
	}
	for _, c := range s.chains {
		run("-X", c)
	}
	return first
}
