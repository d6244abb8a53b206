#!/bin/bash
# Boot the bench's Linux peer (scripts/bench/build-linux-peer.sh builds it) on the same
# QEMU microvm flags as Quartz. The console streams to stdout; the guest says
# "peer: nginx listening on IP port 80, T s after kernel start" once nginx accepts.
# The script execs QEMU, so its pid is QEMU's: stop it by that pid.
#   scripts/bench/run-linux-peer.sh [PORT]     (default 8080: QEMU user networking with
#                                               127.0.0.1:PORT forwarded to the guest's 80)
# Environment:
#   ACCEL=tcg      tcg (default) or kvm. Debian's kernel does not boot under this
#                  machine's /dev/kvm (PVM, a software KVM), so the bench uses tcg.
#   MEM=256M       guest memory
#   NETDEV=...     a -netdev value instead of user networking, e.g. a tap device in a
#                  namespace (run this script under `ip netns exec NS`):
#                    NETDEV=tap,id=n0,ifname=qzb0,script=no,downscript=no \
#                    GUEST_IP=10.0.0.2/24 GUEST_GW=none scripts/bench/run-linux-peer.sh
#                  its id must be n0.
#   GUEST_IP=10.0.2.15/24  GUEST_GW=10.0.2.2 (or none)   eth0's address and route
#   APPEND=...     more kernel command line
#   TSC_KHZ=N      the host's TSC rate for tsc_early_khz= under TCG (default: the one
#                  build-linux-peer.sh measured, build/bench/linux/tsc-khz)
#
# The command it runs (user networking, TCG):
#   qemu-system-x86_64 -M microvm -accel tcg -m 256M -no-reboot \
#       -kernel build/bench/linux/vmlinuz -initrd build/bench/linux/initramfs.cpio.gz \
#       -append "console=ttyS0 quiet panic=-1 tsc_early_khz=2596150 \
#                quartz.ip=10.0.2.15/24 quartz.gw=10.0.2.2" \
#       -nodefaults -display none -serial stdio \
#       -netdev user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80 -device virtio-net-device,netdev=n0
# microvm's ACPI tables (on by default) describe the virtio-mmio slots, which is how
# Debian's virtio_mmio module finds them (its kernel lacks VIRTIO_MMIO_CMDLINE_DEVICES,
# so microvm,acpi=off with virtio_mmio.device= would not work). panic=-1 with -no-reboot
# makes a failed boot end QEMU instead of hanging.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${1:-${PORT:-8080}}
ACCEL=${ACCEL:-tcg}
MEM=${MEM:-256M}
GUEST_IP=${GUEST_IP:-10.0.2.15/24}
GUEST_GW=${GUEST_GW:-10.0.2.2}
NETDEV=${NETDEV:-user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:80}
DIR=build/bench/linux
for f in "$DIR/vmlinuz" "$DIR/initramfs.cpio.gz"; do
    [ -f "$f" ] || {
        echo "run-linux-peer: no $f; run scripts/bench/build-linux-peer.sh" >&2
        exit 1
    }
done
# Under TCG the guest's TSC is the host's, and its PIT calibration of it fails more often
# than not under emulation, after which the kernel hangs ("tsc: Unable to calibrate
# against PIT ... Marking TSC unstable"): give it the rate, measured on this host.
tsc=()
if [ "$ACCEL" = tcg ]; then
    if [ -z "${TSC_KHZ:-}" ]; then
        if [ ! -s "$DIR/tsc-khz" ]; then
            gcc -std=c11 -O2 -o build/bench/tsc-khz scripts/bench/tsc-khz.c
            build/bench/tsc-khz >"$DIR/tsc-khz"
        fi
        TSC_KHZ=$(cat "$DIR/tsc-khz")
    fi
    tsc=("tsc_early_khz=$TSC_KHZ")
fi
append="console=ttyS0 quiet panic=-1 ${tsc[*]} quartz.ip=$GUEST_IP quartz.gw=$GUEST_GW"
exec qemu-system-x86_64 -M microvm -accel "$ACCEL" -m "$MEM" -no-reboot \
    -kernel "$DIR/vmlinuz" -initrd "$DIR/initramfs.cpio.gz" -append "$append ${APPEND:-}" \
    -nodefaults -display none -serial stdio \
    -netdev "$NETDEV" -device virtio-net-device,netdev=n0
