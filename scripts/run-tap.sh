#!/bin/bash
# `make run` (until the kernel lands): the stack in a host process on a tap device inside a
# private network namespace, ready to ping. Ctrl-C stops it and removes the namespace.
#   scripts/run-tap.sh [TAPRUN_BINARY] [taprun args...]
set -euo pipefail
cd "$(dirname "$0")/.."
TAPRUN=${1:-build/host/taprun}
shift || true
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/net/tun ]; then
    echo "run: needs root and /dev/net/tun to create a namespace and a tap device" >&2
    exit 1
fi
QZ_NS=quartz
. scripts/netns-lib.sh
if ip netns list | grep -qw "$QZ_NS"; then
    echo "run: namespace '$QZ_NS' exists; is another 'make run' going? (ip netns del $QZ_NS)" >&2
    exit 1
fi
trap ns_down EXIT
ns_up
cat <<MSG
Quartz stack on tap $TAP in network namespace '$QZ_NS': 10.0.0.2/24, Linux side 10.0.0.1.
In another shell try:
    ip netns exec $QZ_NS ping 10.0.0.2
    ip netns exec $QZ_NS arping -I $TAP 10.0.0.2
    echo hello | ip netns exec $QZ_NS nc -N 10.0.0.2 7             # TCP echo
    ip netns exec $QZ_NS curl -s --http0.9 http://10.0.0.2:19/ | wc -c  # 1 MB source
    head -c 10M /dev/urandom | ip netns exec $QZ_NS nc -N 10.0.0.2 9  # discard: logs a hash
Ctrl-C stops it and prints its counters.
MSG
# Foreground, so Ctrl-C reaches taprun; the trap removes the namespace afterwards.
ip netns exec "$QZ_NS" "$TAPRUN" --tap "$TAP" serve=echo:7 serve=discard:9 \
    serve=source:19:1000000 tcp=1024,65536 "$@" || true
