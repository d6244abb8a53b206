#!/bin/bash
# Build the bench's floor guest, build/bench/floor.elf, from bench/floor/ (floor.S,
# linker.ld): a 32-bit PVH ELF with no libc that prints one line on COM1 and exits QEMU
# through isa-debug-exit (status 1). Needs only gcc and binutils.
#   scripts/bench/build-floor.sh [OUT]       (default build/bench/floor.elf)
#
# Boot it (the time from QEMU's start to its exit is the cost no guest can beat):
#   qemu-system-x86_64 -M microvm -accel tcg -m 16M -kernel build/bench/floor.elf \
#       -nodefaults -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04
# prints "floor: hello from the smallest guest" and exits with status 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/bench/floor.elf}
OBJ=build/bench/floor/floor.o
mkdir -p "$(dirname "$OUT")" "$(dirname "$OBJ")"
gcc -m32 -c -nostdlib -ffreestanding -o "$OBJ" bench/floor/floor.S
ld -m elf_i386 -nostdlib -static -z noexecstack -z max-page-size=4096 \
    -T bench/floor/linker.ld -o "$OUT" "$OBJ"
echo "floor: built $OUT ($(stat -c %s "$OUT") bytes)"
