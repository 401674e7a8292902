#!/bin/sh
# Installs every Debian package wake needs, idempotently, in one place:
#   containerd runc                  the node runtime (a private containerd per node)
#   containernetworking-plugins      pod networking (bridge, host-local, portmap, loopback)
#   iptables                         the CNI portmap and masquerade rules
#   nftables conntrack               the service proxy (virtual IPs, node ports)
#   iproute2                         network namespaces and links
#   busybox-static                   packaged by `wake image build --demo`
# `WAKE_SETUP=test` adds what only the tests need: chromium (the dashboard test
# drives it headless). Any package missing is installed at once, with one
# `apt-get update`; nothing is installed when all are present.
set -eu
runtime="containerd runc containernetworking-plugins iptables nftables conntrack iproute2 busybox-static"
packages="$runtime"
if [ "${WAKE_SETUP:-}" = test ]; then
	packages="$packages chromium"
fi
need=""
for pkg in $packages; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need="$need $pkg"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "wake needs:$need - run as root, or: sudo apt-get install -y$need" >&2
	exit 1
fi
echo "wake setup: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $need </dev/null
