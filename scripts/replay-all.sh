#!/bin/sh
# Replay every fixture in pcaps/ through the stack (make check runs this).
#   scripts/replay-all.sh [REPLAY_BINARY]
set -u
REPLAY=${1:-build/host/replay}
pass=0
fail=0
for pcap in $(find pcaps -name '*.pcap' | sort); do
    if "$REPLAY" "$pcap"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
    fi
done
echo "replay: $pass passed, $fail failed"
[ "$pass" -gt 0 ] && [ "$fail" -eq 0 ]
