#!/bin/bash
# `make run`: boot the unikernel under QEMU with user networking, forward a localhost
# port to its web server, and say where. Ctrl-C stops QEMU.
#   scripts/run-guest.sh [PORT]      (default 8080; MEM=128M ACCEL=kvm|tcg TRANSPORT=modern)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${1:-${PORT:-8080}}
MEM=${MEM:-128M}
KERNEL=build/quartz-unikernel.elf
if [ -z "${ACCEL:-}" ]; then
    # KVM when /dev/kvm opens (read-write), TCG otherwise: Quartz runs under both.
    if { exec 3<>/dev/kvm; } 2>/dev/null; then ACCEL=kvm; exec 3>&-; else ACCEL=tcg; fi
fi
if ss -ltn "sport = :$PORT" 2>/dev/null | grep -q LISTEN; then
    echo "run: port $PORT is taken on this machine; try: make run PORT=8081" >&2
    exit 1
fi
extra=()
[ "${TRANSPORT:-legacy}" = modern ] && extra=(-global virtio-mmio.force-legacy=false)
echo "run: booting $KERNEL under QEMU ($ACCEL, $MEM); Ctrl-C stops it"
# The guest's serial log streams here; once it says it serves, so do we.
qemu-system-x86_64 -M microvm -accel "$ACCEL" -m "$MEM" -kernel "$KERNEL" \
    -append "ip=10.0.2.15/24 gw=10.0.2.2 port=80" -nodefaults -display none -serial stdio \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:80" -device virtio-net-device,netdev=n0 \
    "${extra[@]}" 2>&1 | while IFS= read -r line; do
    printf '%s\n' "${line%$'\r'}"
    case $line in
    "http: serving"*) printf '\n  Quartz is serving your site at http://localhost:%s/\n\n' "$PORT" ;;
    esac
done
