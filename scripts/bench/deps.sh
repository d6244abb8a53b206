#!/bin/sh
# Install the Debian packages `make bench` needs, only those missing (cheap to run every
# time; needs root only when something is missing). The peers themselves are not
# installed: scripts/bench/build-linux-peer.sh fetches Debian's kernel, busybox-static and
# nginx with apt-get download into build/bench/linux/debs/ and unpacks them there.
#   wrk                  the HTTP load generator (run inside the bench's namespace)
#   liblwip-dev          lwIP, the host-stack rows' peer (bench/host)
#   python3-matplotlib   the plot (gnuplot-nox instead when matplotlib cannot be had)
#   qemu-system-x86      both guests; iproute2 the namespace and tap; curl the probes
#   binutils gcc         size(1) for the footprint, the floor ELF, tsc-khz
set -eu
PKGS="wrk liblwip-dev python3-matplotlib qemu-system-x86 iproute2 curl binutils gcc make
python3 gzip"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=""
for p in $PKGS; do
    installed "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "bench-deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "bench-deps: need root to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
    # The plot can come from gnuplot instead; everything else is required.
    rest=$(echo "$missing" | tr ' ' '\n' | grep -vx python3-matplotlib | tr '\n' ' ')
    apt-get install -y -qq --no-install-recommends $rest gnuplot-nox >/dev/null
fi
