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
# A global that libc also defines would silently replace libc's in hosted builds (tests,
# tools), where libc and the sanitizer runtimes call it: sched_yield once did exactly that.
# lib/libc's mem* and str* are the intended exceptions.
libc=$(${CC:-gcc} -print-file-name=libc.so.6)
if [ -f "$libc" ]; then
    for obj in "$@"; do
        case "$obj" in */lib/libc/*) continue ;; esac
        for sym in $(nm --defined-only --extern-only "$obj" | awk '{ print $3 }'); do
            if nm -D --defined-only "$libc" | awk '{ print $3 }' | sed 's/@.*//' | grep -qx "$sym"; then
                echo "freestanding: $obj defines $sym, which libc also defines" >&2
                fail=1
            fi
        done
    done
fi
[ "$fail" -eq 0 ] || exit 1
echo "freestanding: $# objects, no writable globals, no symbols from outside lib/ or clashing with libc"
