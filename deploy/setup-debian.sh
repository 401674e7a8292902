#!/bin/sh
# Installs what wake needs on a Debian machine, idempotently. Today wake needs only
# Go (already present); the node agent adds containerd, runc and the CNI plugins here.
set -eu
WAKE_APT_PACKAGES="${WAKE_APT_PACKAGES:-}"
need=""
for pkg in $WAKE_APT_PACKAGES; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "wake needs:$need - run as root or: sudo apt-get install -y$need" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
fi
