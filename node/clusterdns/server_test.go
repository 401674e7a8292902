package clusterdns

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/wake-run/wake/projections"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// startUpstream serves, on loopback, outside.test A 192.0.2.1 and NXDOMAIN for
// every other name: the node's own resolver in these tests.
func startUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		if q := req.Question[0]; q.Name == "outside.test." && q.Qtype == dns.TypeA {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("192.0.2.1")}}
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func startServer(t *testing.T, state projections.Reader, upstreams ...string) *Server {
	t.Helper()
	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", Zone: NewZone("", 0, serverIP), Upstreams: upstreams,
		Timeout: 300 * time.Millisecond,
		View:    func(fn func(projections.Reader, uint64) error) error { return fn(state, 7) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func exchange(t *testing.T, network, addr string, req *dns.Msg) (*dns.Msg, int) {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	conn, err := c.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMsg(req); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, dns.MaxMsgSize)
	n, err := conn.Read(raw)
	if err != nil {
		t.Fatal(err)
	}
	raw = raw[:n]
	resp := new(dns.Msg)
	if err := resp.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	return resp, len(raw)
}

// TestServerTruncatesUDP: a headless Service of 60 endpoints answers a UDP
// query in at most 512 bytes with TC set, in full within an EDNS0 size the
// client advertises, and in full over TCP.
func TestServerTruncatesUDP(t *testing.T) {
	h := cluster()
	h.create(service("shop", "big", corev1.ClusterIPNone, port("http", corev1.ProtocolTCP, 80)))
	var eps []ep
	for i := range 60 {
		eps = append(eps, ep{ip: fmt.Sprintf("10.66.25.%d", i+1)})
	}
	h.create(slice("shop", "big-1", "big", []discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 80)}, eps...))
	s := startServer(t, h.fold(t))
	name := "big.shop.svc.cluster.local"

	resp, size := exchange(t, "udp", s.Addr(), query(name, dns.TypeA))
	if !resp.Truncated || size > dns.MinMsgSize || len(resp.Answer) >= 60 || len(resp.Answer) == 0 {
		t.Errorf("UDP without EDNS0: TC %v, %d bytes, %d answers; want TC, at most 512 bytes, some of the 60", resp.Truncated, size, len(resp.Answer))
	}
	big := query(name, dns.TypeA)
	big.SetEdns0(4096, false)
	resp, size = exchange(t, "udp", s.Addr(), big)
	if resp.Truncated || len(resp.Answer) != 60 || resp.IsEdns0() == nil {
		t.Errorf("UDP with EDNS0 4096: TC %v, %d bytes, %d answers, OPT %v; want all 60 with an OPT", resp.Truncated, size, len(resp.Answer), resp.IsEdns0())
	}
	resp, _ = exchange(t, "tcp", s.Addr(), query(name, dns.TypeA))
	if resp.Truncated || len(resp.Answer) != 60 {
		t.Errorf("TCP: TC %v, %d answers; want all 60", resp.Truncated, len(resp.Answer))
	}
	small, size := exchange(t, "udp", s.Addr(), query("web.shop.svc.cluster.local", dns.TypeA))
	if small.Truncated || len(small.Answer) != 1 || size > dns.MinMsgSize {
		t.Errorf("a small answer: TC %v, %d answers", small.Truncated, len(small.Answer))
	}
}

// TestServerForwards: names outside the cluster domain go to the upstream, an
// ExternalName's target is resolved through it, and without an upstream that
// answers the reply is SERVFAIL.
func TestServerForwards(t *testing.T) {
	h := cluster()
	h.create(externalName("shop", "out", "outside.test"))
	state := h.fold(t)
	s := startServer(t, state, "127.0.0.1:1", startUpstream(t))
	for _, tc := range []struct {
		network, name string
		rcode         int
		answer        []string
	}{
		{"udp", "outside.test", dns.RcodeSuccess, []string{"outside.test. 60 IN A 192.0.2.1"}},
		{"tcp", "outside.test", dns.RcodeSuccess, []string{"outside.test. 60 IN A 192.0.2.1"}},
		{"udp", "missing.test", dns.RcodeNameError, nil},
		{"udp", "out.shop.svc.cluster.local", dns.RcodeSuccess, []string{"out.shop.svc.cluster.local. 5 IN CNAME outside.test.", "outside.test. 60 IN A 192.0.2.1"}},
	} {
		req := query(tc.name, dns.TypeA)
		resp, _ := exchange(t, tc.network, s.Addr(), req)
		if resp.Id != req.Id || resp.Rcode != tc.rcode || !slices.Equal(rrs(resp.Answer), tc.answer) {
			t.Errorf("%s %s: id %d %s %q, want id %d %s %q", tc.network, tc.name, resp.Id, dns.RcodeToString[resp.Rcode], rrs(resp.Answer),
				req.Id, dns.RcodeToString[tc.rcode], tc.answer)
		}
	}
	lonely := startServer(t, state, "127.0.0.1:1")
	if resp, _ := exchange(t, "udp", lonely.Addr(), query("outside.test", dns.TypeA)); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("no upstream: %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
}
