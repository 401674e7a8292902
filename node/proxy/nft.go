package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/knftables"
)

// The table's layout is kube-proxy's nftables mode (pkg/proxy/nftables in
// Kubernetes), for one address family and without firewall or cluster-IP
// checks:
//
//	filter-input/-forward/-output (filter, priority -110)
//	    ct state new: a service port without endpoints is rejected at once
//	    (service-endpoints-check, nodeport-endpoints-check; TCP reset, ICMP
//	    port unreachable for UDP) or dropped (a Local traffic policy without
//	    local endpoints)
//	nat-prerouting/-output (nat, priority -100) -> services:
//	    ip daddr . meta l4proto . th dport vmap @service-ips
//	    fib daddr type local (not 127/8) meta l4proto . th dport vmap @service-nodeports
//	service-H-<ns/svc/proto/port>: masquerade sources from outside this
//	    node's pod CIDR, affinity sets, then numgen random over the endpoint
//	    chains
//	external-H-...: node port and external addresses (masquerade, or with
//	    externalTrafficPolicy Local: only local endpoints, client address kept)
//	local-H-...: this node's endpoints
//	endpoint-H-...__<ip>/<port>: hairpin masquerade, affinity update, dnat
//	nat-postrouting (nat, priority 100) -> masquerading: packets marked 0x4000
const (
	chainServices         = "services"
	chainMasquerading     = "masquerading"
	chainMarkMasq         = "mark-for-masquerade"
	chainServiceEPCheck   = "service-endpoints-check"
	chainNodePortEPCheck  = "nodeport-endpoints-check"
	chainReject           = "reject-chain"
	mapServiceIPs         = "service-ips"
	mapServiceNodePorts   = "service-nodeports"
	mapNoEndpointServices = "no-endpoint-services"
	mapNoEndpointNodePort = "no-endpoint-nodeports"
	markMasq              = "0x4000"
	notLoopback           = "ip daddr != 127.0.0.0/8"
)

type baseChain struct {
	name, typ, hook, priority string
	jumps                     []string
}

var baseChains = []baseChain{
	{"filter-input", "filter", "input", "-110", []string{"ct state new jump " + chainNodePortEPCheck, "ct state new jump " + chainServiceEPCheck}},
	{"filter-forward", "filter", "forward", "-110", []string{"ct state new jump " + chainServiceEPCheck}},
	{"filter-output", "filter", "output", "-110", []string{"ct state new jump " + chainServiceEPCheck}},
	{"nat-prerouting", "nat", "prerouting", "-100", []string{"jump " + chainServices}},
	{"nat-output", "nat", "output", "-100", []string{"jump " + chainServices}},
	{"nat-postrouting", "nat", "postrouting", "100", []string{"jump " + chainMasquerading}},
}

// hash is a short stable digest, as kube-proxy prefixes its chain names with.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:8]
}

func serviceChain(p *Port) string  { return "service-" + hash(p.ID()) + "-" + p.ID() }
func externalChain(p *Port) string { return "external-" + hash(p.ID()) + "-" + p.ID() }
func localChain(p *Port) string    { return "local-" + hash(p.ID()) + "-" + p.ID() }
func endpointChain(p *Port, e Endpoint) string {
	return fmt.Sprintf("endpoint-%s-%s__%s/%d", hash(p.ID()+e.String()), p.ID(), e.IP, e.Port)
}

// affinitySet names the set of clients pinned to an endpoint. Its timeout is
// part of the name: a set's timeout cannot change in place.
func affinitySet(p *Port, e Endpoint) string {
	return fmt.Sprintf("affinity-%s", hash(fmt.Sprintf("%s %s %d", p.ID(), e, p.Affinity)))
}

func proto(p *Port) string { return strings.ToLower(string(p.Protocol)) }

// desired is the table's whole content, built from the ports.
type desired struct {
	tx       *knftables.Transaction
	chains   map[string]bool
	sets     map[string]bool
	podCIDR  string
	affinity map[string]time.Duration
}

// Sync fills tx with one atomic rewrite of the table: every chain the ports
// need (created, flushed, refilled), the verdict maps (flushed, refilled),
// the affinity sets (created; their entries kept), and the deletion of every
// chain and set of existing (the table's objects now, by type as ListAll
// gives them) that is no longer needed. podCIDR is this node's pods'
// addresses: service traffic from elsewhere is masqueraded.
func Sync(tx *knftables.Transaction, ports []Port, podCIDR string, existing map[string][]string) {
	d := &desired{tx: tx, chains: map[string]bool{}, sets: map[string]bool{}, podCIDR: podCIDR, affinity: map[string]time.Duration{}}
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("wake service proxy")})

	// Every chain first, so that rules and map elements may name any of them.
	var rules []*knftables.Rule
	rule := func(chain string, parts ...any) {
		rules = append(rules, &knftables.Rule{Chain: chain, Rule: knftables.Concat(parts...)})
	}
	chain := func(c *knftables.Chain) {
		d.chains[c.Name] = true
		tx.Add(c)
		tx.Flush(c)
	}
	for _, b := range baseChains {
		chain(&knftables.Chain{Name: b.name, Type: knftables.PtrTo(knftables.BaseChainType(b.typ)),
			Hook: knftables.PtrTo(knftables.BaseChainHook(b.hook)), Priority: knftables.PtrTo(knftables.BaseChainPriority(b.priority))})
		for _, j := range b.jumps {
			rule(b.name, j)
		}
	}
	for _, name := range []string{chainServices, chainMasquerading, chainMarkMasq, chainServiceEPCheck, chainNodePortEPCheck, chainReject} {
		chain(&knftables.Chain{Name: name})
	}
	rule(chainMasquerading, "meta mark &", markMasq, "== 0 return")
	rule(chainMasquerading, "meta mark set meta mark ^", markMasq)
	rule(chainMasquerading, "masquerade fully-random")
	rule(chainMarkMasq, "meta mark set meta mark |", markMasq)
	rule(chainServices, "ip daddr . meta l4proto . th dport vmap", "@", mapServiceIPs)
	rule(chainServices, "fib daddr type local", notLoopback, "meta l4proto . th dport vmap", "@", mapServiceNodePorts)
	rule(chainServiceEPCheck, "ip daddr . meta l4proto . th dport vmap", "@", mapNoEndpointServices)
	rule(chainNodePortEPCheck, "fib daddr type local", notLoopback, "meta l4proto . th dport vmap", "@", mapNoEndpointNodePort)
	rule(chainReject, "meta l4proto tcp reject with tcp reset")
	rule(chainReject, "reject")

	var elements []*knftables.Element
	elem := func(m string, key []string, verdict string) {
		elements = append(elements, &knftables.Element{Map: m, Key: key, Value: []string{verdict}})
	}
	for i := range ports {
		p := &ports[i]
		pr, port := proto(p), fmt.Sprint(p.Port)
		// What traffic without endpoints meets: a reset (or port unreachable)
		// when the Service has none, a drop when only a Local policy leaves none.
		none := func(eps []Endpoint) string {
			if len(p.Cluster) == 0 {
				return "goto " + chainReject
			}
			return "drop"
		}
		if eps := p.Internal(); len(eps) > 0 {
			target := serviceChain(p)
			if p.InternalLocal {
				target = localChain(p)
			}
			elem(mapServiceIPs, []string{p.ClusterIP, pr, port}, "goto "+target)
		} else {
			elem(mapNoEndpointServices, []string{p.ClusterIP, pr, port}, none(eps))
		}
		if p.HasExternal() {
			if eps := p.ExternalEndpoints(); len(eps) > 0 {
				for _, ip := range p.External {
					elem(mapServiceIPs, []string{ip, pr, port}, "goto "+externalChain(p))
				}
				if p.NodePort != 0 {
					elem(mapServiceNodePorts, []string{pr, fmt.Sprint(p.NodePort)}, "goto "+externalChain(p))
				}
			} else {
				for _, ip := range p.External {
					elem(mapNoEndpointServices, []string{ip, pr, port}, none(eps))
				}
				if p.NodePort != 0 {
					elem(mapNoEndpointNodePort, []string{pr, fmt.Sprint(p.NodePort)}, none(eps))
				}
			}
		}
		if len(p.Cluster) > 0 {
			c := serviceChain(p)
			chain(&knftables.Chain{Name: c})
			rule(c, "ip daddr", p.ClusterIP, pr, "dport", port, "ip saddr !=", podCIDR, "jump", chainMarkMasq)
			d.balance(p, c, p.Cluster, rule)
		}
		usesLocal := p.InternalLocal || p.ExternalLocal && p.HasExternal()
		if usesLocal && len(p.Local) > 0 {
			c := localChain(p)
			chain(&knftables.Chain{Name: c})
			if p.InternalLocal {
				rule(c, "ip daddr", p.ClusterIP, pr, "dport", port, "ip saddr !=", podCIDR, "jump", chainMarkMasq)
			}
			d.balance(p, c, p.Local, rule)
		}
		if p.HasExternal() && len(p.ExternalEndpoints()) > 0 {
			c := externalChain(p)
			chain(&knftables.Chain{Name: c})
			if p.ExternalLocal {
				// Pods and the node itself reach the Service through the
				// cluster; only traffic from elsewhere keeps to local endpoints.
				rule(c, "ip saddr", podCIDR, "goto", serviceChain(p))
				rule(c, "fib saddr type local jump", chainMarkMasq)
				rule(c, "fib saddr type local goto", serviceChain(p))
				rule(c, "goto", localChain(p))
			} else {
				rule(c, "jump", chainMarkMasq)
				rule(c, "goto", serviceChain(p))
			}
		}
		eps := slices.Clone(p.Cluster)
		if usesLocal {
			for _, e := range p.Local {
				if !slices.Contains(eps, e) {
					eps = append(eps, e)
				}
			}
		}
		for _, e := range eps {
			c := endpointChain(p, e)
			chain(&knftables.Chain{Name: c})
			rule(c, "ip saddr", e.IP, "jump", chainMarkMasq)
			if p.Affinity > 0 {
				rule(c, "update", "@", affinitySet(p, e), "{ ip saddr }")
			}
			rule(c, "meta l4proto", pr, "dnat to", e.String())
		}
	}

	// Affinity sets: created if missing, their entries kept across syncs.
	names := make([]string, 0, len(d.affinity))
	for name := range d.affinity {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		d.sets[name] = true
		tx.Add(&knftables.Set{Name: name, Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
			Timeout: knftables.PtrTo(d.affinity[name])})
	}
	for _, m := range []struct{ name, typ string }{
		{mapServiceIPs, "ipv4_addr . inet_proto . inet_service : verdict"},
		{mapServiceNodePorts, "inet_proto . inet_service : verdict"},
		{mapNoEndpointServices, "ipv4_addr . inet_proto . inet_service : verdict"},
		{mapNoEndpointNodePort, "inet_proto . inet_service : verdict"},
	} {
		tx.Add(&knftables.Map{Name: m.name, Type: m.typ})
		tx.Flush(&knftables.Map{Name: m.name})
	}
	for _, r := range rules {
		tx.Add(r)
	}
	for _, e := range elements {
		tx.Add(e)
	}

	// What is no longer needed goes last: nothing refers to it any more.
	var stale []string
	for _, name := range existing["chain"] {
		if !d.chains[name] {
			stale = append(stale, name)
			tx.Flush(&knftables.Chain{Name: name})
		}
	}
	for _, name := range stale {
		tx.Delete(&knftables.Chain{Name: name})
	}
	for _, name := range existing["set"] {
		if !d.sets[name] {
			tx.Delete(&knftables.Set{Name: name})
		}
	}
	for _, name := range existing["map"] {
		if !slices.Contains([]string{mapServiceIPs, mapServiceNodePorts, mapNoEndpointServices, mapNoEndpointNodePort}, name) {
			tx.Delete(&knftables.Map{Name: name})
		}
	}
}

// balance fills a chain that spreads new connections over eps at random,
// after sending a client pinned by session affinity to its endpoint.
func (d *desired) balance(p *Port, chain string, eps []Endpoint, rule func(string, ...any)) {
	if p.Affinity > 0 {
		for _, e := range eps {
			set := affinitySet(p, e)
			d.affinity[set] = time.Duration(p.Affinity) * time.Second
			rule(chain, "ip saddr", "@", set, "goto", endpointChain(p, e))
		}
	}
	targets := make([]string, len(eps))
	for i, e := range eps {
		targets[i] = fmt.Sprintf("%d : goto %s", i, endpointChain(p, e))
	}
	rule(chain, "numgen random mod", len(eps), "vmap {", strings.Join(targets, " , "), "}")
}
