#!/bin/sh
# Installs what wake needs on a Debian machine, idempotently: containerd and runc
# (the node runtime; the image tests import into a private containerd), and
# busybox-static (packaged by `wake image build --demo`). The test task adds
# chromium (the dashboard test drives it headless).
set -eu
WAKE_APT_PACKAGES="${WAKE_APT_PACKAGES:-containerd runc busybox-static}"
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
