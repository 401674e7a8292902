package clusterdns

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wake-run/wake/node/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseResolvConf(t *testing.T) {
	got := ParseResolvConf(`# generated
nameserver 127.0.0.53
nameserver 10.0.0.2 ; second
search old.example
search corp.example. lab.example
options edns0 trust-ad
options ndots:2
`)
	want := HostResolv{Nameservers: []string{"127.0.0.53", "10.0.0.2"}, Searches: []string{"corp.example", "lab.example"},
		Options: []string{"edns0", "trust-ad", "ndots:2"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestPodDNS renders a pod's resolv.conf per dnsPolicy and dnsConfig as the
// kubelet does.
func TestPodDNS(t *testing.T) {
	host := HostResolv{Nameservers: []string{"10.0.0.2"}, Searches: []string{"corp.example"}, Options: []string{"edns0"}}
	settings := PodSettings{ClusterDNS: "10.66.24.1", Host: host}
	two := "2"
	many := make([]string, 40)
	for i := range many {
		many[i] = fmt.Sprintf("s%d.example", i)
	}
	cases := []struct {
		name        string
		policy      corev1.DNSPolicy
		hostNetwork bool
		dnsConfig   *corev1.PodDNSConfig
		settings    *PodSettings
		want        runtime.DNSConfig
		warning     string
	}{
		{name: "ClusterFirst", policy: corev1.DNSClusterFirst,
			want: runtime.DNSConfig{Nameservers: []string{"10.66.24.1"},
				Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}, Options: []string{"ndots:5"}}},
		{name: "no policy is ClusterFirst", policy: "",
			want: runtime.DNSConfig{Nameservers: []string{"10.66.24.1"},
				Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}, Options: []string{"ndots:5"}}},
		{name: "another cluster domain", policy: corev1.DNSClusterFirst, settings: &PodSettings{ClusterDNS: "10.66.24.1", Domain: "wake.internal"},
			want: runtime.DNSConfig{Nameservers: []string{"10.66.24.1"},
				Searches: []string{"shop.svc.wake.internal", "svc.wake.internal", "wake.internal"}, Options: []string{"ndots:5"}}},
		{name: "ClusterFirst on the host network is Default", policy: corev1.DNSClusterFirst, hostNetwork: true,
			want: runtime.DNSConfig{Nameservers: []string{"10.0.0.2"}, Searches: []string{"corp.example"}, Options: []string{"edns0"}}},
		{name: "ClusterFirstWithHostNet", policy: corev1.DNSClusterFirstWithHostNet, hostNetwork: true,
			want: runtime.DNSConfig{Nameservers: []string{"10.66.24.1"},
				Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}, Options: []string{"ndots:5"}}},
		{name: "ClusterFirst without a cluster DNS is Default", policy: corev1.DNSClusterFirst, settings: &PodSettings{Host: host},
			want: runtime.DNSConfig{Nameservers: []string{"10.0.0.2"}, Searches: []string{"corp.example"}, Options: []string{"edns0"}}},
		{name: "Default", policy: corev1.DNSDefault,
			want: runtime.DNSConfig{Nameservers: []string{"10.0.0.2"}, Searches: []string{"corp.example"}, Options: []string{"edns0"}}},
		{name: "None: only dnsConfig", policy: corev1.DNSNone,
			dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.53"}, Searches: []string{"mine.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}}},
			want:      runtime.DNSConfig{Nameservers: []string{"192.0.2.53"}, Searches: []string{"mine.example"}, Options: []string{"ndots:2"}}},
		{name: "dnsConfig merged: appended without duplicates, options overridden by name", policy: corev1.DNSClusterFirst,
			dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"10.66.24.1", "192.0.2.53"}, Searches: []string{"cluster.local", "mine.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "single-request-reopen"}}},
			want: runtime.DNSConfig{Nameservers: []string{"10.66.24.1", "192.0.2.53"},
				Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "mine.example"},
				Options:  []string{"ndots:2", "single-request-reopen"}}},
		{name: "at most 3 nameservers", policy: corev1.DNSDefault,
			dnsConfig: &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}},
			want:      runtime.DNSConfig{Nameservers: []string{"10.0.0.2", "192.0.2.1", "192.0.2.2"}, Searches: []string{"corp.example"}, Options: []string{"edns0"}},
			warning:   "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.0.0.2 192.0.2.1 192.0.2.2"},
		{name: "at most 32 search domains", policy: corev1.DNSClusterFirst, dnsConfig: &corev1.PodDNSConfig{Searches: many},
			want: runtime.DNSConfig{Nameservers: []string{"10.66.24.1"},
				Searches: append([]string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}, many[:28]...), Options: []string{"ndots:5"}},
			warning: "Search Line limits were exceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
				Spec: corev1.PodSpec{DNSPolicy: tc.policy, HostNetwork: tc.hostNetwork, DNSConfig: tc.dnsConfig}}
			s := settings
			if tc.settings != nil {
				s = *tc.settings
			}
			got, warning := PodDNS(p, s)
			if !slices.Equal(got.Nameservers, tc.want.Nameservers) || !slices.Equal(got.Searches, tc.want.Searches) || !slices.Equal(got.Options, tc.want.Options) {
				t.Errorf("got\n %+v\nwant\n %+v", *got, tc.want)
			}
			if tc.warning == "" && warning != "" || !strings.HasPrefix(warning, tc.warning) {
				t.Errorf("warning %q, want %q", warning, tc.warning)
			}
		})
	}
}
