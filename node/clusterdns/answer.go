package clusterdns

import (
	"math"
	"net"
	"strings"

	"github.com/miekg/dns"
	"github.com/wake-run/wake/projections"
)

// DefaultDomain is the cluster domain when none is configured.
const DefaultDomain = "cluster.local"

// DefaultTTL is the TTL of every answer of the zone, CoreDNS's default.
const DefaultTTL = 5

// Zone answers the queries of one cluster domain as CoreDNS's kubernetes
// plugin does, configured as kubeadm configures it (`pods insecure`):
//
//	<svc>.<ns>.svc.<domain>              A: the ClusterIP; headless: every ready endpoint; ExternalName: CNAME
//	<host>.<svc>.<ns>.svc.<domain>       A: the endpoint of that hostname (else its address with dashes)
//	_<port>._<proto>.<svc>.<ns>.svc...   SRV per matching port (headless: per endpoint), targets' A in extra
//	<a-b-c-d>.<ns>.pod.<domain>          A: the address the name spells
//	<ns>.svc.<domain>, <domain>          NODATA; SOA and NS at the apex
//
// A name that does not exist is NXDOMAIN, a name that exists without records
// of the type asked is NODATA (NOERROR, no answer); both carry the zone's SOA.
type Zone struct {
	// Domain is the cluster domain as a lowercase FQDN ("cluster.local.").
	Domain string
	// TTL of every record.
	TTL uint32
	// Server is this server's address: ns.dns.<domain>.
	Server net.IP
}

// NewZone returns the zone of domain ("" is DefaultDomain) with ttl (0 is
// DefaultTTL) served at server.
func NewZone(domain string, ttl uint32, server net.IP) Zone {
	if domain == "" {
		domain = DefaultDomain
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return Zone{Domain: dns.Fqdn(strings.ToLower(domain)), TTL: ttl, Server: server}
}

// Contains says whether name is the zone's or under it (case-insensitive).
func (z Zone) Contains(name string) bool {
	return dns.IsSubDomain(z.Domain, strings.ToLower(dns.Fqdn(name)))
}

// Lookup resolves a name outside the zone (an ExternalName's target): the
// server forwards it.
type Lookup func(name string, qtype uint16) (*dns.Msg, error)

// Answer answers req, whose question is in the zone, from the projection as
// rd holds it; serial is the SOA's serial (the projection's checkpoint).
// lookup may be nil: an ExternalName outside the zone is then answered with
// nothing. It is pure over rd and lookup.
func (z Zone) Answer(rd projections.Reader, serial uint32, req *dns.Msg, lookup Lookup) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = true, true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	v := view{rd: rd}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	var answer, extra []dns.RR
	var err error
	switch q.Qtype {
	case dns.TypeA, dns.TypeAAAA:
		answer, err = z.addresses(v, q.Name, q.Qtype, lookup, nil)
	case dns.TypeSRV:
		answer, extra, err = z.srv(v, q.Name)
	case dns.TypeCNAME:
		var es []entry
		if es, err = z.records(v, name); err == nil && len(es) > 0 && net.ParseIP(es[0].host) == nil {
			answer = []dns.RR{&dns.CNAME{Hdr: z.header(q.Name, dns.TypeCNAME), Target: dns.Fqdn(es[0].host)}}
		}
	case dns.TypeTXT:
		if name == "dns-version."+z.Domain {
			answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 28800}, Txt: []string{"1.1.0"}}}
		} else {
			_, err = z.records(v, name)
		}
	case dns.TypeSOA:
		if name == z.Domain {
			answer = []dns.RR{z.soa(serial)}
		}
	case dns.TypeNS:
		if name == z.Domain {
			answer = []dns.RR{&dns.NS{Hdr: z.header(q.Name, dns.TypeNS), Ns: "ns.dns." + z.Domain}}
			extra = []dns.RR{&dns.A{Hdr: z.header("ns.dns."+z.Domain, dns.TypeA), A: z.Server}}
			break
		}
		_, err = z.addresses(v, q.Name, dns.TypeA, nil, nil)
	case dns.TypeAXFR, dns.TypeIXFR:
		m.Rcode = dns.RcodeRefused
		return m
	default:
		// Only to tell NODATA from NXDOMAIN.
		_, err = z.addresses(v, q.Name, dns.TypeA, nil, nil)
	}
	if err != nil {
		m.Rcode = dns.RcodeNameError
	}
	if err != nil || len(answer) == 0 {
		m.Ns = []dns.RR{z.soa(serial)}
		return m
	}
	m.Answer, m.Extra = answer, extra
	return m
}

func (z Zone) header(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: z.TTL}
}

func (z Zone) soa(serial uint32) dns.RR {
	return &dns.SOA{Hdr: z.header(z.Domain, dns.TypeSOA), Ns: "ns.dns." + z.Domain, Mbox: "hostmaster." + z.Domain,
		Serial: serial, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: z.TTL}
}

// addresses answers A or AAAA for qname: the addresses of its entries of
// that family, an ExternalName's CNAME followed by its target's addresses
// (inside the zone from the projection, outside through lookup; a chain is
// followed at most 8 deep and never into a loop).
func (z Zone) addresses(v view, qname string, qtype uint16, lookup Lookup, chain []dns.RR) ([]dns.RR, error) {
	name := strings.ToLower(qname)
	if name == "ns.dns."+z.Domain {
		if qtype == dns.TypeA && z.Server.To4() != nil {
			return []dns.RR{&dns.A{Hdr: z.header(qname, dns.TypeA), A: z.Server}}, nil
		}
		return nil, nil
	}
	entries, err := z.records(v, name)
	if err != nil {
		return nil, err
	}
	var out []dns.RR
	seen := map[string]bool{}
	for _, e := range entries {
		ip := net.ParseIP(e.host)
		switch {
		case ip == nil:
			target := strings.ToLower(dns.Fqdn(e.host))
			if target == name || dns.IsSubDomain(name, target) || len(chain) > 7 {
				continue
			}
			cname := &dns.CNAME{Hdr: z.header(qname, dns.TypeCNAME), Target: dns.Fqdn(e.host)}
			if dns.IsSubDomain(z.Domain, target) {
				next, err := z.addresses(v, cname.Target, qtype, lookup, append(chain, cname))
				if err == nil && len(next) > 0 {
					out = append(out, cname)
					out = append(out, next...)
				}
				continue
			}
			if lookup == nil {
				continue
			}
			resp, err := lookup(cname.Target, qtype)
			if err != nil {
				continue
			}
			out = append(out, cname)
			out = append(out, resp.Answer...)
		case seen[ip.String()]:
		case qtype == dns.TypeA && ip.To4() != nil:
			seen[ip.String()] = true
			out = append(out, &dns.A{Hdr: z.header(qname, dns.TypeA), A: ip.To4()})
		case qtype == dns.TypeAAAA && ip.To4() == nil:
			seen[ip.String()] = true
			out = append(out, &dns.AAAA{Hdr: z.header(qname, dns.TypeAAAA), AAAA: ip})
		}
	}
	return out, nil
}

// srv answers SRV for qname: one record per entry with a port, priority 0,
// the weight shared evenly (100 / entries), the target the entry's owner,
// and the targets' addresses in extra. An ExternalName has none.
func (z Zone) srv(v view, qname string) (answer, extra []dns.RR, err error) {
	entries, err := z.records(v, strings.ToLower(qname))
	if err != nil {
		return nil, nil, err
	}
	var internal []entry
	for _, e := range entries {
		if net.ParseIP(e.host) != nil {
			internal = append(internal, e)
		}
	}
	if len(internal) == 0 {
		return nil, nil, nil
	}
	weight := uint16(math.Floor(100.0 / float64(len(internal))))
	weight = max(weight, 1)
	type target struct {
		name string
		port int
	}
	seenSRV, seenAddr := map[target]bool{}, map[target]bool{}
	for _, e := range internal {
		if e.port == -1 {
			continue
		}
		if t := (target{e.owner, e.port}); !seenSRV[t] {
			seenSRV[t] = true
			answer = append(answer, &dns.SRV{Hdr: z.header(qname, dns.TypeSRV), Priority: 0, Weight: weight, Port: uint16(e.port), Target: e.owner})
		}
		if t := (target{e.owner + " " + e.host, 0}); !seenAddr[t] {
			seenAddr[t] = true
			ip := net.ParseIP(e.host)
			if ip4 := ip.To4(); ip4 != nil {
				extra = append(extra, &dns.A{Hdr: z.header(e.owner, dns.TypeA), A: ip4})
			} else {
				extra = append(extra, &dns.AAAA{Hdr: z.header(e.owner, dns.TypeAAAA), AAAA: ip})
			}
		}
	}
	return answer, extra, nil
}
