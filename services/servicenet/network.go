// Package servicenet is the network Services live in: the service CIDR their
// cluster IPs come from, the node port range, the cluster DNS address, and the
// allocation of both.
//
// Allocation happens in the write path (services/client.Write), where an apply
// becomes an event: the stored Service carries its clusterIP, clusterIPs and
// nodePorts, so everything downstream (endpoints, the node proxy, DNS) only
// reads them. What is taken is derived from the Services the log holds (the
// query projection), never from memory, so the allocator is consistent after a
// restart and a deleted Service's addresses are free again as soon as its
// deletion is folded. A write that allocates is guarded by the newest event of
// every Service (events.Log.AppendGuardedBy with the Service kind's subjects),
// so two writers that chose the same address cannot both append: the second
// decides again from the Services that now include the first.
package servicenet

import (
	"fmt"
	"net/netip"
)

const (
	// DefaultCIDR is the service CIDR of a control plane that names none:
	// kubeadm's, which clashes neither with wake's default pod CIDR
	// (10.88.0.0/24) nor with Docker's or libvirt's defaults.
	DefaultCIDR = "10.96.0.0/16"
	// NodePortMin and NodePortMax bound node ports, as Kubernetes'
	// --service-node-port-range does by default.
	NodePortMin = 30000
	NodePortMax = 32767
	// DNSNamespace and DNSName name the cluster DNS Service (Kubernetes'
	// conventional kube-system/kube-dns). It alone gets DNSAddress, which is
	// never allocated to another Service.
	DNSNamespace = "kube-system"
	DNSName      = "kube-dns"
	// dnsOffset: the DNS service is the 10th address of the range, as kubeadm
	// makes it (10.96.0.10).
	dnsOffset = 10
	// maxPrefixBits: a range must hold at least 16 addresses, room for the
	// DNS address and a few services.
	maxPrefixBits = 28
)

// Network is the service network of a control plane. The zero Network is not
// usable; Parse makes one.
type Network struct {
	// ServiceCIDR is where cluster IPs come from (IPv4).
	ServiceCIDR netip.Prefix `json:"serviceCIDR"`
	// NodePortMin and NodePortMax bound node ports (inclusive).
	NodePortMin int `json:"nodePortMin"`
	NodePortMax int `json:"nodePortMax"`
}

// Parse returns the network of the service CIDR cidr ("" is DefaultCIDR) and
// the default node port range. It refuses what cannot hold Services: IPv6,
// an address that is not the start of its range, or fewer than 16 addresses.
func Parse(cidr string) (Network, error) {
	if cidr == "" {
		cidr = DefaultCIDR
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return Network{}, fmt.Errorf("service CIDR %q: not a CIDR such as %s", cidr, DefaultCIDR)
	}
	switch {
	case !p.Addr().Is4():
		return Network{}, fmt.Errorf("service CIDR %q: wake's service network is IPv4 only (e.g. %s)", cidr, DefaultCIDR)
	case p.Masked() != p:
		return Network{}, fmt.Errorf("service CIDR %q: not the start of its range; did you mean %s?", cidr, p.Masked())
	case p.Bits() > maxPrefixBits:
		return Network{}, fmt.Errorf("service CIDR %q: too small; a service range needs at least /%d (16 addresses)", cidr, maxPrefixBits)
	}
	return Network{ServiceCIDR: p, NodePortMin: NodePortMin, NodePortMax: NodePortMax}, nil
}

// Default is the network of DefaultCIDR.
func Default() Network {
	n, _ := Parse(DefaultCIDR)
	return n
}

// DNSAddress is the cluster DNS Service's address: the 10th of the range
// (10.96.0.10 for 10.96.0.0/16).
func (n Network) DNSAddress() netip.Addr { return n.nth(dnsOffset) }

// size is the number of addresses in the range.
func (n Network) size() uint64 { return 1 << (32 - n.ServiceCIDR.Bits()) }

// nth is the address at offset i of the range.
func (n Network) nth(i uint64) netip.Addr {
	b := n.ServiceCIDR.Addr().As4()
	v := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	v += i
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// offset is where a lies in the range; ok is false outside it.
func (n Network) offset(a netip.Addr) (uint64, bool) {
	if !a.Is4() || !n.ServiceCIDR.Contains(a) {
		return 0, false
	}
	x, b := a.As4(), n.ServiceCIDR.Addr().As4()
	av := uint64(x[0])<<24 | uint64(x[1])<<16 | uint64(x[2])<<8 | uint64(x[3])
	bv := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	return av - bv, true
}

// Usable reports whether a may be a cluster IP: inside the range, neither its
// network nor its broadcast address.
func (n Network) Usable(a netip.Addr) bool {
	off, ok := n.offset(a)
	return ok && off != 0 && off != n.size()-1
}

// staticBand is how many addresses at the start of the range are kept for
// requested cluster IPs (Kubernetes' KEP-3070: a 16th of the range, at least
// 16 and at most 256): dynamic allocation takes them only when the rest is full.
func (n Network) staticBand() uint64 { return min(max(n.size()/16, 16), 256) }

// String is the CIDR.
func (n Network) String() string { return n.ServiceCIDR.String() }
