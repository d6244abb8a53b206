#!/bin/sh
# Install the Debian packages Quartz needs, only those missing (so it is cheap to run
# before every make check / make test / make run). Needs root when something is missing.
set -eu
PKGS="build-essential make pkg-config libcriterion-dev libpcap-dev python3 python3-pytest
python3-scapy tcpdump tshark iproute2 iputils-ping iputils-arping qemu-system-x86
netcat-openbsd curl wrk"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: need root to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
