#!/bin/bash
# Check the Linux peer end to end, the two ways the bench reaches it: every file of SITE
# fetched byte for byte (1) through QEMU user networking's forwarded loopback port and
# (2) over a tap device in a network namespace this script creates and deletes (guest
# 10.0.0.2/24, our side 10.0.0.1/24), plus 200 keep-alive requests there. Each QEMU is
# ours and stopped by its pid. Run scripts/bench/build-linux-peer.sh first (same SITE).
#   scripts/bench/check-linux-peer.sh [SITE]    (default site/; PORT=18480 ACCEL=tcg)
set -euo pipefail
cd "$(dirname "$0")/../.."
SITE=${1:-${SITE:-site}}
PORT=${PORT:-18480}
NS=qzbench$$
TAP=qzb0
LOG=$(mktemp -d)
qemu_pid=
cleanup() {
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$LOG"
}
trap cleanup EXIT

# $1: URL base; the rest: a command prefix to run curl under (ip netns exec ...).
fetch_all() {
    local base=$1 n=0 f url
    shift
    while IFS= read -r -d '' f; do
        f=${f#./}
        url=$base/$(python3 -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1]))' "$f")
        "$@" curl -sf -o "$LOG/got" "$url" || { echo "check: GET $url failed" >&2; return 1; }
        cmp -s "$LOG/got" "$SITE/$f" || { echo "check: $url differs from $SITE/$f" >&2; return 1; }
        n=$((n + 1))
    done < <(cd "$SITE" && find -L . -type f -print0)
    echo "check: $n files byte-exact from $base"
}

# $1: URL; the rest: command prefix. Polls with short timeouts (see README: slirp).
wait_200() {
    local url=$1 t0=$EPOCHREALTIME
    shift
    for _ in $(seq 600); do
        if "$@" curl -sf -o /dev/null -m 0.2 "$url"; then
            local dt
            dt=$(python3 -c "print('%.2f' % ($EPOCHREALTIME - $t0))")
            echo "check: first 200 from $url $dt s after QEMU start"
            return 0
        fi
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "check: no 200 from $url; console:" >&2
    tr -d '\r' <"$LOG/console" >&2
    return 1
}

stop_qemu() {
    kill "$qemu_pid"
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=
}

# 1. User networking, loopback port forward.
scripts/bench/run-linux-peer.sh "$PORT" >"$LOG/console" 2>&1 &
qemu_pid=$!
wait_200 "http://127.0.0.1:$PORT/"
fetch_all "http://127.0.0.1:$PORT"
grep -a "peer: nginx listening" "$LOG/console" | tr -d '\r'
stop_qemu

# 2. A tap device in our own namespace.
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip tuntap add dev "$TAP" mode tap
ip netns exec "$NS" ip addr add 10.0.0.1/24 dev "$TAP"
ip netns exec "$NS" ip link set "$TAP" up
# ip netns exec, env and run-linux-peer.sh all exec: $! is QEMU.
ip netns exec "$NS" env NETDEV="tap,id=n0,ifname=$TAP,script=no,downscript=no" \
    GUEST_IP=10.0.0.2/24 GUEST_GW=none scripts/bench/run-linux-peer.sh >"$LOG/console" 2>&1 &
qemu_pid=$!
wait_200 "http://10.0.0.2/" ip netns exec "$NS"
fetch_all "http://10.0.0.2" ip netns exec "$NS"
# curl reuses one connection across a URL range: 200 requests, one keep-alive.
codes=$(ip netns exec "$NS" curl -s -o /dev/null -w '%{http_code} %{num_connects}\n' \
    "http://10.0.0.2/?[1-200]" | sort | uniq -c |
    awk '{ printf " %s x (status %s, %s new connections)", $1, $2, $3 }')
echo "check: 200 keep-alive requests over the tap:$codes"
grep -a "peer: nginx listening" "$LOG/console" | tr -d '\r'
stop_qemu
echo "check: Linux peer OK"
