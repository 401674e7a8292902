package teardown

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitRule(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`-N CNI-HOSTPORT-DNAT`, []string{"-N", "CNI-HOSTPORT-DNAT"}},
		{`-A POSTROUTING -s 10.67.0.2/32 -m comment --comment "name: \"wake-wkdn0\" id: \"ab\"" -j CNI-1f`,
			[]string{"-A", "POSTROUTING", "-s", "10.67.0.2/32", "-m", "comment", "--comment", `name: "wake-wkdn0" id: "ab"`, "-j", "CNI-1f"}},
		{`-A X --comment ""`, []string{"-A", "X", "--comment", ""}},
		{"", nil},
	} {
		if got := splitRule(tc.line); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitRule(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

// natRules is `iptables -t nat -S` with two networks' pods, one of each
// mapping a host port, as the bridge (ipMasq) and portmap plugins leave it.
var natRules = strings.Split(`-P PREROUTING ACCEPT
-P POSTROUTING ACCEPT
-N CNI-HOSTPORT-DNAT
-N CNI-HOSTPORT-MASQ
-N CNI-HOSTPORT-SETMARK
-N CNI-DN-aaa
-N CNI-DN-bbb
-N CNI-aaa
-N CNI-bbb
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A POSTROUTING -s 10.67.0.2/32 -m comment --comment "name: \"wake-wkdn0\" id: \"aaa\"" -j CNI-aaa
-A POSTROUTING -s 10.66.7.2/32 -m comment --comment "name: \"wake-wke2e7\" id: \"bbb\"" -j CNI-bbb
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A CNI-DN-aaa -s 10.67.0.0/24 -p tcp -m tcp --dport 18080 -j CNI-HOSTPORT-SETMARK
-A CNI-DN-aaa -p tcp -m tcp --dport 18080 -j DNAT --to-destination 10.67.0.2:8080
-A CNI-DN-bbb -p tcp -m tcp --dport 18081 -j DNAT --to-destination 10.66.7.2:8080
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"wake-wkdn0\" id: \"aaa\"" -m multiport --dports 18080 -j CNI-DN-aaa
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"wake-wke2e7\" id: \"bbb\"" -m multiport --dports 18081 -j CNI-DN-bbb
-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
-A CNI-aaa -d 10.67.0.0/24 -m comment --comment "name: \"wake-wkdn0\" id: \"aaa\"" -j ACCEPT
-A CNI-aaa ! -d 224.0.0.0/4 -m comment --comment "name: \"wake-wkdn0\" id: \"aaa\"" -j MASQUERADE
-A CNI-bbb -d 10.66.7.0/24 -m comment --comment "name: \"wake-wke2e7\" id: \"bbb\"" -j ACCEPT`, "\n")

func TestNetworkRulesPickOnlyThatNetworks(t *testing.T) {
	got := networkRules(natRules, "wake-wkdn0", "10.67.0.0/24")
	var rules []string
	for _, r := range got.rules {
		rules = append(rules, strings.Join(r, " "))
	}
	want := []string{
		`POSTROUTING -s 10.67.0.2/32 -m comment --comment name: "wake-wkdn0" id: "aaa" -j CNI-aaa`,
		`CNI-DN-aaa -s 10.67.0.0/24 -p tcp -m tcp --dport 18080 -j CNI-HOSTPORT-SETMARK`,
		`CNI-HOSTPORT-DNAT -p tcp -m comment --comment dnat name: "wake-wkdn0" id: "aaa" -m multiport --dports 18080 -j CNI-DN-aaa`,
		`CNI-aaa -d 10.67.0.0/24 -m comment --comment name: "wake-wkdn0" id: "aaa" -j ACCEPT`,
		`CNI-aaa ! -d 224.0.0.0/4 -m comment --comment name: "wake-wkdn0" id: "aaa" -j MASQUERADE`,
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}
	if want := []string{"CNI-aaa", "CNI-DN-aaa"}; !reflect.DeepEqual(got.chains, want) {
		t.Errorf("chains %q, want %q", got.chains, want)
	}
	if s := networkRules(natRules, "wake-other", "10.99.0.0/24"); !s.empty() {
		t.Errorf("a network without rules picked %v", s)
	}
	// A prefix of another network's name is not that network.
	if s := networkRules(natRules, "wake-wke2e", "10.66.0.0/24"); !s.empty() {
		t.Errorf("network wake-wke2e picked %v", s)
	}
}

func TestHostportRulesOnlyWhenNoPortIsMapped(t *testing.T) {
	if s, inUse := hostportRules(natRules); !inUse || !s.empty() {
		t.Errorf("chains in use: got %v, inUse %v", s, inUse)
	}
	var unused []string
	for _, l := range natRules {
		if !strings.HasPrefix(l, "-A CNI-HOSTPORT-DNAT") {
			unused = append(unused, l)
		}
	}
	s, inUse := hostportRules(unused)
	if inUse {
		t.Fatal("no mapping left, yet in use")
	}
	var rules []string
	for _, r := range s.rules {
		rules = append(rules, strings.Join(r, " "))
	}
	want := []string{
		"PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
		"OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
		"POSTROUTING -m comment --comment CNI portfwd requiring masquerade -j CNI-HOSTPORT-MASQ",
		"CNI-DN-aaa -s 10.67.0.0/24 -p tcp -m tcp --dport 18080 -j CNI-HOSTPORT-SETMARK",
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}
	if want := []string{hostportDNAT, hostportMasq, hostportSetmark}; !reflect.DeepEqual(s.chains, want) {
		t.Errorf("chains %q, want %q", s.chains, want)
	}
	if s, inUse := hostportRules([]string{"-P PREROUTING ACCEPT"}); inUse || !s.empty() {
		t.Errorf("no chains: got %v, inUse %v", s, inUse)
	}
}

func TestMountPointsUnder(t *testing.T) {
	info := `22 1 0:21 / / rw - ext4 /dev/vda rw
300 22 0:4 net:[4026532] /tmp/wdn/data/agent/runtime/netns/ab rw - nsfs nsfs rw
301 22 0:4 uts:[4026533] /tmp/wdn/data/agent/runtime/sandboxes/ab/uts rw - nsfs nsfs rw
302 22 0:50 / /tmp/wdn/data/agent/containerd/state/io.containerd.runtime.v2.task/wake/ab-web-0/rootfs rw - overlay overlay rw
303 22 0:4 net:[4026534] /tmp/wdn/data2/agent/runtime/netns/cd rw - nsfs nsfs rw
304 22 0:4 net:[4026535] /tmp/wdn/data/with\040space rw - nsfs nsfs rw
305 22 0:4 / /tmp/wdn/data rw - tmpfs tmpfs rw`
	got := mountPointsUnder(info, "/tmp/wdn/data", "")
	want := []string{
		"/tmp/wdn/data/agent/containerd/state/io.containerd.runtime.v2.task/wake/ab-web-0/rootfs",
		"/tmp/wdn/data/agent/runtime/sandboxes/ab/uts",
		"/tmp/wdn/data/agent/runtime/netns/ab",
		"/tmp/wdn/data/with space",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCachedNetwork(t *testing.T) {
	entry := []byte(`{"kind":"cniCacheV1","containerId":"ab","config":"` +
		`eyJjbmlWZXJzaW9uIjoiMS4wLjAiLCJuYW1lIjoid2FrZS13a2RuMCIsInBsdWdpbnMiOlt7ImJyaWRnZSI6IndrZG4wIiwiaXBhbSI6eyJyYW5nZXMiOltbeyJzdWJuZXQiOiIxMC42Ny4wLjAvMjQifV1dLCJ0eXBlIjoiaG9zdC1sb2NhbCJ9LCJ0eXBlIjoiYnJpZGdlIn0seyJ0eXBlIjoicG9ydG1hcCJ9XX0=` +
		`","ifName":"eth0","networkName":"wake-wkdn0"}`)
	bridge, subnet, ok := cachedNetwork(entry)
	if !ok || bridge != "wkdn0" || subnet != "10.67.0.0/24" {
		t.Errorf("got %q %q %v", bridge, subnet, ok)
	}
	if _, _, ok := cachedNetwork([]byte(`{"config":"bm90IGpzb24="}`)); ok {
		t.Error("a config that is not JSON was read")
	}
}

func TestPurgeRefusedWhileProcessesRunFromTheData(t *testing.T) {
	procs := []process{
		{pid: 10, args: []string{"/usr/bin/containerd", "--config", "/tmp/d/agent/containerd/config.toml"}},
		{pid: 11, args: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "wake", "-address", "/tmp/d/agent/containerd/containerd.sock"}},
		{pid: 12, args: []string{"/usr/bin/containerd", "--config", "/tmp/d2/containerd/config.toml"}}, // another data dir
		{pid: 13, args: []string{"sleep", "/tmp/d"}},                                                   // the directory itself, not inside it
	}
	err := runningFrom(procs, "/tmp/d", "/tmp/d/agent/x")
	if err == nil || !strings.Contains(err.Error(), "pid 10 (") || !strings.Contains(err.Error(), "pid 11 (") || strings.Contains(err.Error(), "pid 12") || strings.Contains(err.Error(), "pid 13") {
		t.Errorf("runningFrom = %v, want pids 10 and 11 named, not 12 or 13", err)
	}
	if err := runningFrom(procs, "/tmp/elsewhere", ""); err != nil {
		t.Errorf("nothing runs from /tmp/elsewhere: %v", err)
	}
}
