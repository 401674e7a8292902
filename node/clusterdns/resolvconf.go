package clusterdns

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
)

// The kubelet's limits on a pod's resolv.conf (Kubernetes' validation
// constants MaxDNSNameservers, MaxDNSSearchPaths, MaxDNSSearchListChars).
const (
	maxNameservers    = 3
	maxSearchPaths    = 32
	maxSearchLineLen  = 2048
	maxSearchNameLen  = 253
	defaultNdotsValue = "ndots:5"
)

// HostResolv is the node's resolver configuration (its /etc/resolv.conf).
type HostResolv struct {
	Nameservers, Searches, Options []string
}

// ParseResolvConf reads a resolv.conf as the kubelet does: every nameserver
// line, the last search (or domain) line, every option.
func ParseResolvConf(content string) HostResolv {
	var h HostResolv
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				h.Nameservers = append(h.Nameservers, f[1])
			}
		case "domain", "search":
			h.Searches = nil
			for _, s := range f[1:] {
				if s != "." {
					h.Searches = append(h.Searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			h.Options = append(h.Options, f[1:]...)
		}
	}
	return h
}

// PodSettings are what a pod's resolv.conf is made from besides the pod.
type PodSettings struct {
	// ClusterDNS is the address of the cluster DNS the pods of this node ask
	// ("": none, so ClusterFirst falls back to the node's resolver, as the
	// kubelet does without --cluster-dns).
	ClusterDNS string
	// Domain is the cluster domain ("" is DefaultDomain).
	Domain string
	Host   HostResolv
}

// PodDNS is the pod's resolv.conf as the kubelet writes it:
//
//   - ClusterFirst (the default), and ClusterFirstWithHostNet: nameserver the
//     cluster DNS; search <ns>.svc.<domain> svc.<domain> <domain> then the
//     node's search list; options ndots:5. A hostNetwork pod with
//     ClusterFirst gets the node's configuration instead (Default).
//   - Default: the node's nameservers, search list and options.
//   - None: nothing but the pod's dnsConfig.
//
// The pod's dnsConfig is then merged in: its nameservers and searches
// appended (duplicates dropped), its options overriding options of the same
// name. At most 3 nameservers and 32 search domains (of at most 253
// characters, 2048 on the line) are kept; what the limits dropped is
// returned as a warning ("" when nothing was).
func PodDNS(pod *corev1.Pod, s PodSettings) (cfg *runtime.DNSConfig, warning string) {
	domain := s.Domain
	if domain == "" {
		domain = DefaultDomain
	}
	cfg = &runtime.DNSConfig{}
	switch policy := pod.Spec.DNSPolicy; {
	case policy == corev1.DNSNone:
	case s.ClusterDNS != "" && (policy == corev1.DNSClusterFirstWithHostNet ||
		(policy == corev1.DNSClusterFirst || policy == "") && !pod.Spec.HostNetwork):
		cfg.Nameservers = []string{s.ClusterDNS}
		cfg.Searches = unique(append([]string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}, s.Host.Searches...))
		cfg.Options = []string{defaultNdotsValue}
	default:
		cfg.Nameservers = append([]string(nil), s.Host.Nameservers...)
		cfg.Searches = append([]string(nil), s.Host.Searches...)
		cfg.Options = append([]string(nil), s.Host.Options...)
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Nameservers = unique(append(cfg.Nameservers, dc.Nameservers...))
		cfg.Searches = unique(append(cfg.Searches, dc.Searches...))
		cfg.Options = mergeOptions(cfg.Options, dc.Options)
	}
	var warnings []string
	if len(cfg.Nameservers) > maxNameservers {
		cfg.Nameservers = cfg.Nameservers[:maxNameservers]
		warnings = append(warnings, fmt.Sprintf("Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: %s",
			strings.Join(cfg.Nameservers, " ")))
	}
	if searches, cut := fitSearches(cfg.Searches); cut {
		cfg.Searches = searches
		warnings = append(warnings, fmt.Sprintf("Search Line limits were exceeded, some search paths have been omitted, the applied search line is: %s",
			strings.Join(cfg.Searches, " ")))
	}
	return cfg, strings.Join(warnings, "; ")
}

// fitSearches applies the kubelet's limits to a search list.
func fitSearches(searches []string) ([]string, bool) {
	cut := false
	if len(searches) > maxSearchPaths {
		searches, cut = searches[:maxSearchPaths], true
	}
	kept := searches[:0:0]
	for _, s := range searches {
		if len(s) > maxSearchNameLen {
			cut = true
			continue
		}
		kept = append(kept, s)
	}
	for len(kept) > 0 && len(strings.Join(kept, " ")) > maxSearchLineLen {
		kept, cut = kept[:len(kept)-1], true
	}
	return kept, cut
}

// unique drops repeated entries, keeping the first.
func unique(list []string) []string {
	seen := map[string]bool{}
	out := list[:0:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions overrides options of the same name with the pod's, in the
// order the names first appear ("ndots:2" replaces "ndots:5").
func mergeOptions(base []string, pod []corev1.PodDNSConfigOption) []string {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, o := range base {
		name, value, _ := strings.Cut(o, ":")
		set(name, value)
	}
	for _, o := range pod {
		value := ""
		if o.Value != nil {
			value = *o.Value
		}
		set(o.Name, value)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if values[n] != "" {
			out = append(out, n+":"+values[n])
		} else {
			out = append(out, n)
		}
	}
	return out
}
