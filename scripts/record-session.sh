#!/bin/sh
# record-session.sh — boot the Quartz guest on QEMU's user network with a capture of every
# frame its NIC sends and receives (QEMU's filter-dump on the netdev), run a command
# against the guest's web server through a forwarded host port, stop the guest, and leave
# the capture for Wireshark / tshark.
#
# usage: scripts/record-session.sh [-k KERNEL] [-a kvm|tcg] [-m MEM] [-t legacy|modern]
#                                  OUT.pcap [COMMAND [ARG...]]
#
#   -k KERNEL  the ELF to boot [build/quartz-unikernel.elf; run make first]
#   -a ACCEL   kvm or tcg [kvm when /dev/kvm opens, else tcg]
#   -m MEM     guest memory [32M]
#   -t MODE    virtio-mmio transport: legacy or modern [legacy]
#
# COMMAND runs with QUARTZ_PORT (the host port forwarded to the guest's port 80) and
# QUARTZ_URL (http://127.0.0.1:QUARTZ_PORT) in its environment, e.g.
#   scripts/record-session.sh /tmp/s.pcap sh -c 'curl -s "$QUARTZ_URL/" >/dev/null'
# Without one, a few curls: /, the same again on one connection, a 404, a HEAD, a gzip
# request. The guest's serial log is written beside the capture (OUT.pcap.log). Exit
# status: the command's, or 1 when the guest does not come up.
#
# Check a capture with:
#   tshark -r OUT.pcap -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
#       -Y '_ws.malformed || _ws.expert.severity == error || tcp.checksum.status == 2'
set -eu

die() { echo "record-session: $*" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
kernel=$root/build/quartz-unikernel.elf
accel=tcg
if (exec 3<>/dev/kvm) 2>/dev/null; then accel=kvm; fi
mem=32M
transport=legacy
while getopts k:a:m:t: opt; do
    case $opt in
    k) kernel=$OPTARG ;;
    a) accel=$OPTARG ;;
    m) mem=$OPTARG ;;
    t) transport=$OPTARG ;;
    *) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
out=$1
shift
[ -f "$kernel" ] || die "no kernel at $kernel (make first, or -k)"
case $transport in
legacy) global="" ;;
modern) global="-global virtio-mmio.force-legacy=false" ;;
*) die "transport must be legacy or modern, not $transport" ;;
esac

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
log=$out.log
rm -f "$out" "$log"
# shellcheck disable=SC2086 # $global is zero or two words
qemu-system-x86_64 -M microvm -accel "$accel" -m "$mem" -kernel "$kernel" \
    -append "ip=10.0.2.15/24 gw=10.0.2.2 port=80" -nodefaults -display none \
    -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:80" \
    -device virtio-net-device,netdev=n0 $global \
    -object "filter-dump,id=f0,netdev=n0,file=$out" >/dev/null 2>"$out.qemu-err" &
qemu=$!
stop() {
    if kill -0 "$qemu" 2>/dev/null; then
        kill "$qemu" 2>/dev/null || true
        wait "$qemu" 2>/dev/null || true
    fi
}
trap stop EXIT INT TERM

i=0
until grep -q '^http: serving' "$log" 2>/dev/null; do
    if ! kill -0 "$qemu" 2>/dev/null || [ $i -ge 600 ]; then
        cat "$log" "$out.qemu-err" >&2 2>/dev/null || true
        die "the guest did not start serving"
    fi
    i=$((i + 1))
    sleep 0.1
done
rm -f "$out.qemu-err"

export QUARTZ_PORT=$port QUARTZ_URL=http://127.0.0.1:$port
status=0
if [ $# -gt 0 ]; then
    "$@" || status=$?
else
    {
        curl -s -S -o /dev/null -o /dev/null "$QUARTZ_URL/" "$QUARTZ_URL/" &&
            curl -s -S -o /dev/null "$QUARTZ_URL/no-such-page" &&
            curl -s -S -I -o /dev/null "$QUARTZ_URL/" &&
            curl -s -S -o /dev/null --compressed "$QUARTZ_URL/"
    } || status=$?
fi
sleep 0.5 # let the last close handshakes reach the capture
stop
trap - EXIT INT TERM
echo "record-session: capture in $out, serial log in $log" >&2
exit $status
