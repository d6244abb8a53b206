#!/bin/sh
# `git bisect run` driver: build the replay tool at the commit under test and replay one
# capture. Exit 0 when the stack sends what the capture recorded, 1 when it differs, 125
# when this commit cannot be built or cannot replay (bisect skips it).
#
#   cp scripts/bisect-replay.sh /tmp/     # older commits may not have this script
#   git bisect start BAD GOOD
#   git bisect run /tmp/bisect-replay.sh /tmp/bug.pcap
#
# Keep the capture (and its .conf sidecar) outside the tree too, so every commit sees it.
set -u
[ $# -eq 1 ] || { echo "usage: $0 capture.pcap" >&2; exit 125; }
make -s build/host/replay >/dev/null 2>&1 || { echo "bisect: build failed, skipping" >&2; exit 125; }
build/host/replay "$1"
rc=$?
case $rc in
0 | 1) exit $rc ;;
*) exit 125 ;;
esac
