package clusterdns

import (
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

const soa = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 42 7200 1800 86400 5"

// TestAnswer asks the zone of a folded cluster and compares every section of
// the answers with what CoreDNS's kubernetes plugin answers.
func TestAnswer(t *testing.T) {
	state := cluster().fold(t)
	zone := NewZone("", 0, serverIP)
	upstream := func(name string, qtype uint16) (*dns.Msg, error) {
		m := new(dns.Msg).SetQuestion(name, qtype)
		if name == "db.example.test." && qtype == dns.TypeA {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("192.0.2.10")}}
		}
		return m, nil
	}
	down := func(string, uint16) (*dns.Msg, error) { return nil, errors.New("no upstream") }
	cases := []struct {
		name   string
		qname  string
		qtype  uint16
		lookup Lookup
		rcode  int
		answer []string
		extra  []string
		ns     []string
	}{
		{name: "ClusterIP", qname: "web.shop.svc.cluster.local", qtype: dns.TypeA,
			answer: []string{"web.shop.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "the question's case is kept", qname: "Web.Shop.svc.Cluster.Local", qtype: dns.TypeA,
			answer: []string{"Web.Shop.svc.Cluster.Local. 5 IN A 10.96.0.20"}},
		{name: "AAAA of an IPv4 service is NODATA", qname: "web.shop.svc.cluster.local", qtype: dns.TypeAAAA, ns: []string{soa}},
		{name: "unknown service is NXDOMAIN", qname: "nope.shop.svc.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "unknown namespace is NXDOMAIN", qname: "web.elsewhere.svc.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "a namespace is NODATA", qname: "shop.svc.cluster.local", qtype: dns.TypeA, ns: []string{soa}},
		{name: "an unknown namespace is NXDOMAIN", qname: "elsewhere.svc.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "svc apex is NODATA", qname: "svc.cluster.local", qtype: dns.TypeA, ns: []string{soa}},
		{name: "neither svc nor pod is NXDOMAIN", qname: "web.shop.foo.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "too many labels is NXDOMAIN", qname: "a.b.c.web.shop.svc.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "SOA at the apex", qname: "cluster.local", qtype: dns.TypeSOA, answer: []string{soa}},
		{name: "NS at the apex", qname: "cluster.local", qtype: dns.TypeNS,
			answer: []string{"cluster.local. 5 IN NS ns.dns.cluster.local."}, extra: []string{"ns.dns.cluster.local. 5 IN A 10.66.24.1"}},
		{name: "the name server's address", qname: "ns.dns.cluster.local", qtype: dns.TypeA,
			answer: []string{"ns.dns.cluster.local. 5 IN A 10.66.24.1"}},
		{name: "schema version", qname: "dns-version.cluster.local", qtype: dns.TypeTXT,
			answer: []string{`dns-version.cluster.local. 28800 IN TXT "1.1.0"`}},
		{name: "SRV of a named port", qname: "_http._tcp.web.shop.svc.cluster.local", qtype: dns.TypeSRV,
			answer: []string{"_http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local."},
			extra:  []string{"web.shop.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "SRV of a UDP port", qname: "_dns._udp.web.shop.svc.cluster.local", qtype: dns.TypeSRV,
			answer: []string{"_dns._udp.web.shop.svc.cluster.local. 5 IN SRV 0 100 53 web.shop.svc.cluster.local."},
			extra:  []string{"web.shop.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "SRV of every port", qname: "web.shop.svc.cluster.local", qtype: dns.TypeSRV,
			answer: []string{"web.shop.svc.cluster.local. 5 IN SRV 0 50 53 web.shop.svc.cluster.local.", "web.shop.svc.cluster.local. 5 IN SRV 0 50 80 web.shop.svc.cluster.local."},
			extra:  []string{"web.shop.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "a port of another protocol is NXDOMAIN", qname: "_http._udp.web.shop.svc.cluster.local", qtype: dns.TypeSRV, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "A of an SRV name", qname: "_http._tcp.web.shop.svc.cluster.local", qtype: dns.TypeA,
			answer: []string{"_http._tcp.web.shop.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "headless: one A per ready endpoint", qname: "db.shop.svc.cluster.local", qtype: dns.TypeA,
			answer: []string{"db.shop.svc.cluster.local. 5 IN A 10.66.24.5", "db.shop.svc.cluster.local. 5 IN A 10.66.24.6"}},
		{name: "headless SRV: per endpoint, named by hostname or address", qname: "_pg._tcp.db.shop.svc.cluster.local", qtype: dns.TypeSRV,
			answer: []string{"_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 50 5432 10-66-24-6.db.shop.svc.cluster.local.",
				"_pg._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 50 5432 db-0.db.shop.svc.cluster.local."},
			extra: []string{"10-66-24-6.db.shop.svc.cluster.local. 5 IN A 10.66.24.6", "db-0.db.shop.svc.cluster.local. 5 IN A 10.66.24.5"}},
		{name: "an endpoint by hostname", qname: "db-0.db.shop.svc.cluster.local", qtype: dns.TypeA,
			answer: []string{"db-0.db.shop.svc.cluster.local. 5 IN A 10.66.24.5"}},
		{name: "an endpoint by address", qname: "10-66-24-6.db.shop.svc.cluster.local", qtype: dns.TypeA,
			answer: []string{"10-66-24-6.db.shop.svc.cluster.local. 5 IN A 10.66.24.6"}},
		{name: "a not-ready endpoint is not found", qname: "10-66-24-7.db.shop.svc.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "headless without endpoints is NXDOMAIN", qname: "empty.shop.svc.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "pod hostname.subdomain of a headless service", qname: "cache-0.cache.shop.svc.cluster.local", qtype: dns.TypeA,
			answer: []string{"cache-0.cache.shop.svc.cluster.local. 5 IN A 10.66.24.9"}},
		{name: "a not-ready pod of the subdomain is not found", qname: "cache-1.cache.shop.svc.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "a pod the service does not select is not found", qname: "stranger.cache.shop.svc.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "headless service of subdomain pods", qname: "cache.shop.svc.cluster.local", qtype: dns.TypeA,
			answer: []string{"cache.shop.svc.cluster.local. 5 IN A 10.66.24.9"}},
		{name: "SRV of subdomain pods: the target port by its name", qname: "_redis._tcp.cache.shop.svc.cluster.local", qtype: dns.TypeSRV,
			answer: []string{"_redis._tcp.cache.shop.svc.cluster.local. 5 IN SRV 0 100 6379 cache-0.cache.shop.svc.cluster.local."},
			extra:  []string{"cache-0.cache.shop.svc.cluster.local. 5 IN A 10.66.24.9"}},
		{name: "ExternalName CNAME", qname: "ext.shop.svc.cluster.local", qtype: dns.TypeCNAME,
			answer: []string{"ext.shop.svc.cluster.local. 5 IN CNAME db.example.test."}},
		{name: "ExternalName A: the CNAME and its target's addresses", qname: "ext.shop.svc.cluster.local", qtype: dns.TypeA, lookup: upstream,
			answer: []string{"db.example.test. 60 IN A 192.0.2.10", "ext.shop.svc.cluster.local. 5 IN CNAME db.example.test."}},
		{name: "ExternalName A, target not resolvable: NODATA", qname: "ext.shop.svc.cluster.local", qtype: dns.TypeA, lookup: down, ns: []string{soa}},
		{name: "ExternalName has no SRV", qname: "ext.shop.svc.cluster.local", qtype: dns.TypeSRV, ns: []string{soa}},
		{name: "ExternalName inside the zone is followed", qname: "alias.shop.svc.cluster.local", qtype: dns.TypeA,
			answer: []string{"alias.shop.svc.cluster.local. 5 IN CNAME web.shop.svc.cluster.local.", "web.shop.svc.cluster.local. 5 IN A 10.96.0.20"}},
		{name: "an ExternalName naming itself answers nothing", qname: "loop.shop.svc.cluster.local", qtype: dns.TypeA, ns: []string{soa}},
		{name: "pod A from its address", qname: "10-66-24-9.shop.pod.cluster.local", qtype: dns.TypeA,
			answer: []string{"10-66-24-9.shop.pod.cluster.local. 5 IN A 10.66.24.9"}},
		{name: "pod name that is no address is NXDOMAIN", qname: "web.shop.pod.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "pod in an unknown namespace is NXDOMAIN", qname: "10-66-24-9.elsewhere.pod.cluster.local", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "another type of an existing name is NODATA", qname: "web.shop.svc.cluster.local", qtype: dns.TypeMX, ns: []string{soa}},
		{name: "another type of a missing name is NXDOMAIN", qname: "nope.shop.svc.cluster.local", qtype: dns.TypeMX, rcode: dns.RcodeNameError, ns: []string{soa}},
		{name: "zone transfer is refused", qname: "cluster.local", qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := query(tc.qname, tc.qtype)
			resp := zone.Answer(state, 42, req, tc.lookup)
			if resp.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			if resp.Id != req.Id || !resp.Response || resp.Rcode != dns.RcodeRefused && !resp.Authoritative {
				t.Errorf("header %+v: want the request's id, a response, authoritative", resp.MsgHdr)
			}
			for _, sec := range []struct {
				name      string
				got, want []string
			}{{"answer", rrs(resp.Answer), tc.answer}, {"extra", rrs(resp.Extra), tc.extra}, {"authority", rrs(resp.Ns), tc.ns}} {
				if !slices.Equal(sec.got, sec.want) {
					t.Errorf("%s:\n got %q\nwant %q", sec.name, sec.got, sec.want)
				}
			}
		})
	}
}

// TestAnswerFollowsChanges: a deleted Service, an endpoint turned not ready
// and a slice relabelled to another Service change the answers.
func TestAnswerFollowsChanges(t *testing.T) {
	h := cluster()
	h.remove("Service", "shop", "web")
	h.update(slice("shop", "db-x7k2q", "db", nil, ep{ip: "10.66.24.5", hostname: "db-0", ready: ptr(false)}, ep{ip: "10.66.24.6"}))
	h.create(service("shop", "other", corev1.ClusterIPNone, port("pg", corev1.ProtocolTCP, 5432)))
	h.create(slice("shop", "moving", "empty", nil, ep{ip: "10.66.24.20"}))
	h.update(slice("shop", "moving", "other", nil, ep{ip: "10.66.24.20"}))
	state := h.fold(t)
	zone := NewZone("cluster.local", 30, serverIP)
	for _, tc := range []struct {
		qname  string
		rcode  int
		answer []string
	}{
		{"web.shop.svc.cluster.local", dns.RcodeNameError, nil},
		{"db.shop.svc.cluster.local", dns.RcodeSuccess, []string{"db.shop.svc.cluster.local. 30 IN A 10.66.24.6"}},
		{"empty.shop.svc.cluster.local", dns.RcodeNameError, nil},
		{"other.shop.svc.cluster.local", dns.RcodeSuccess, []string{"other.shop.svc.cluster.local. 30 IN A 10.66.24.20"}},
	} {
		resp := zone.Answer(state, 1, query(tc.qname, dns.TypeA), nil)
		if resp.Rcode != tc.rcode || !slices.Equal(rrs(resp.Answer), tc.answer) {
			t.Errorf("%s: %s %q, want %s %q", tc.qname, dns.RcodeToString[resp.Rcode], rrs(resp.Answer), dns.RcodeToString[tc.rcode], tc.answer)
		}
	}
}
