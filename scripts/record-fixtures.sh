#!/bin/bash
# Record the replay fixtures in pcaps/ from real exchanges between Linux's own tools and
# the stack running in taprun on a tap device inside a private network namespace.
#   scripts/record-fixtures.sh              record every scenario
#   scripts/record-fixtures.sh NAME ...     only these (names as in pcaps/README.md)
# Needs root. Each capture is written by taprun itself (every frame in and out, with the
# replay sidecar beside it); pcaps/README.md says what each one shows.
set -euo pipefail
cd "$(dirname "$0")/.."
TAPRUN=${TAPRUN:-build/host/taprun}
PY=/usr/bin/python3
. scripts/netns-lib.sh
trap 'taprun_stop 2>/dev/null; ns_down' EXIT
LOG=$(mktemp)

# scenario NAME PCAP [taprun args...] -- the body runs between start and stop
begin() {
    local pcap=$1
    shift
    mkdir -p "$(dirname "$pcap")"
    ns_up
    taprun_start "$LOG" --pcap "$pcap" "$@"
    sleep 0.2 # let Linux's own link-up chatter (IPv6 ND/MLD) pass: it is real noise, kept
}

end() {
    sleep 0.3
    taprun_stop
    ns_down
    echo "recorded $1: $(grep -c '' "$LOG") log lines"
}

arp_linux_resolves() {
    local p=pcaps/arp/linux-resolves-quartz.pcap
    begin $p
    ns_exec arping -c 3 -I qz0 10.0.0.2 >/dev/null
    end $p
}

arp_quartz_resolves() {
    local p=pcaps/arp/quartz-resolves-linux.pcap
    begin $p --ping 10.0.0.1 --count 2 --interval 200
    sleep 1
    end $p
}

arp_gratuitous() {
    local p=pcaps/arp/gratuitous.pcap
    begin $p
    sleep 2.2 # both RFC 5227 announcements, 2 s apart
    ns_exec arping -U -c 2 -I qz0 10.0.0.1 >/dev/null || true # Linux announces too
    end $p
}

arp_unanswered() {
    local p=pcaps/arp/unanswered.pcap
    begin $p --ping 10.0.0.77 --count 1
    sleep 3.5 # three requests one second apart, then the stack gives up
    end $p
}

icmp_ping_sizes() {
    local p=pcaps/icmp/ping-sizes.pcap
    begin $p
    for s in 0 1 7 8 56 64 100 512 1000 1400 1471 1472; do
        ns_exec ping -q -c 1 -W 1 -s $s 10.0.0.2 >/dev/null
    done
    end $p
}

icmp_quartz_pings() {
    local p=pcaps/icmp/quartz-pings-linux.pcap
    begin $p --ping 10.0.0.1 --count 3 --size 1000 --interval 100
    sleep 0.6
    end $p
}

ipv4_fragmented_echo() {
    local p=pcaps/ipv4/fragmented-echo.pcap
    begin $p
    for s in 1473 3000 8000 20000 65507; do
        ns_exec ping -q -c 1 -W 1 -s $s 10.0.0.2 >/dev/null
    done
    end $p
}

ipv4_reassembly_timeout() {
    local p=pcaps/ipv4/reassembly-timeout.pcap
    begin $p
    ns_exec $PY scripts/damage.py qz0 fragment-zero-only
    sleep 31 # the stack's 30 s reassembly timer, then ICMP Time Exceeded
    end $p
}

damaged() { # layer
    local p=pcaps/$1/damaged.pcap
    # The Linux side must be able to send oversize frames; TCP damage needs a listener.
    LINUX_MTU=9000 begin $p $([ "$1" = tcp ] && echo $TCP_SERVICES)
    ns_exec $PY scripts/damage.py qz0 "$1"
    end $p
}

TCP_SERVICES="serve=echo:7 serve=discard:9 serve=source:19:200000"

tcp_nc_echo() {
    local p=pcaps/tcp/nc-echo.pcap
    begin $p $TCP_SERVICES
    printf 'hello, quartz\nsecond line\n' | ns_exec nc -N -w 5 10.0.0.2 7 >/dev/null
    ns_exec nc -z -w 2 10.0.0.2 8 || true # a closed port: refused with RST
    end $p
}

tcp_curl_download() {
    local p=pcaps/tcp/curl-download.pcap
    begin $p $TCP_SERVICES
    ns_exec curl -s --http0.9 -o /dev/null http://10.0.0.2:19/
    end $p
}

tcp_half_close() {
    local p=pcaps/tcp/half-close.pcap
    begin $p $TCP_SERVICES
    ns_exec $PY -c '
import socket
s = socket.create_connection(("10.0.0.2", 7))
s.sendall(bytes(range(256)) * 400)   # 100 KiB, more than a window of echo
s.shutdown(socket.SHUT_WR)           # Linux half-closes; Quartz keeps sending
n = 0
while True:
    b = s.recv(65536)
    if not b:
        break
    n += len(b)
assert n == 102400, n
'
    end $p
}

http_session() {
    local p=pcaps/http/session.pcap
    mkdir -p pcaps/http
    $PY scripts/site-bundle.py site pcaps/http/site.img >/dev/null
    begin $p serve=http:80:pcaps/http/site.img
    local u=http://10.0.0.2
    ns_exec curl -s -o /dev/null $u/ $u/style.css $u/about $u/about/ $u/missing
    ns_exec curl -s -o /dev/null --compressed $u/
    ns_exec curl -s -o /dev/null -I $u/favicon.svg
    ns_exec curl -s -o /dev/null -r 10-99 $u/style.css
    local tag
    tag=$(ns_exec curl -s -D - -o /dev/null $u/ | sed -n 's/^ETag: //Ip' | tr -d '\r')
    ns_exec curl -s -o /dev/null -H "If-None-Match: $tag" $u/
    # Pipelined, then refused: a POST (405), a bad version (505), an escape (400).
    printf 'GET / HTTP/1.1\r\nHost: q\r\n\r\nHEAD /style.css HTTP/1.1\r\nHost: q\r\n\r\n' |
        ns_exec nc -N -w 3 10.0.0.2 80 >/dev/null
    printf 'POST / HTTP/1.1\r\nHost: q\r\nContent-Length: 5\r\n\r\nhello' |
        ns_exec nc -N -w 3 10.0.0.2 80 >/dev/null
    printf 'GET / HTTP/2.0\r\nHost: q\r\n\r\n' | ns_exec nc -N -w 3 10.0.0.2 80 >/dev/null
    printf 'GET /../etc/passwd HTTP/1.1\r\nHost: q\r\n\r\n' | ns_exec nc -N -w 3 10.0.0.2 80 >/dev/null
    end $p
}

noise() {
    local p=pcaps/eth/noise.pcap
    begin $p
    ns_exec $PY scripts/damage.py qz0 noise
    end $p
}

ALL="arp_linux_resolves arp_quartz_resolves arp_gratuitous arp_unanswered icmp_ping_sizes
icmp_quartz_pings ipv4_fragmented_echo damaged_eth damaged_arp damaged_ipv4 damaged_icmp
damaged_frag damaged_tcp noise ipv4_reassembly_timeout tcp_nc_echo tcp_curl_download
tcp_half_close http_session"
[ -x "$TAPRUN" ] || make "$TAPRUN"
for s in ${@:-$ALL}; do
    case $s in
    damaged_*) damaged "${s#damaged_}" ;;
    *) "$s" ;;
    esac
done
rm -f "$LOG"
