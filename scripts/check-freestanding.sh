#!/bin/sh
# Purity check for lib/: the freestanding objects may define no writable data and may
# reference no symbol that lib/ does not define itself, except the mem* functions.
# A layer that sneaks in malloc, stdio or a global fails here.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 OBJ..." >&2; exit 2; }
fail=0
defined=$(nm --defined-only "$@" | awk 'NF == 3 { print $3 }' | sort -u)
for obj in "$@"; do
    # d/D data, b/B bss, C common, g/G/s/S small data: all writable.
    writable=$(nm --defined-only "$obj" | awk 'NF == 3 && $2 ~ /^[bBdDCgGsS]$/ { print $3 }')
    if [ -n "$writable" ]; then
        echo "freestanding: $obj defines writable data: $(echo $writable)" >&2
        fail=1
    fi
    for sym in $(nm --undefined-only "$obj" | awk '{ print $2 }'); do
        case "$sym" in
        memcpy | memmove | memset | memcmp) continue ;;
        esac
        if ! echo "$defined" | grep -qx "$sym"; then
            echo "freestanding: $obj references $sym, which lib/ does not define" >&2
            fail=1
        fi
    done
done
[ "$fail" -eq 0 ] || exit 1
echo "freestanding: $# objects, no writable globals, no symbols from outside lib/"
