/*
 * exit.h — stopping the machine with a verdict.
 *
 * With `-device isa-debug-exit,iobase=0xf4,iosize=0x04`, writing v to port 0xf4 ends QEMU
 * with status v*2+1: EXIT_PASS (0) → 1, EXIT_FAIL (1) → 3, EXIT_PANIC (2) → 5. Without
 * the device the write is ignored and the CPU halts with interrupts off, for good.
 */
#ifndef KERNEL_EXIT_H
#define KERNEL_EXIT_H

enum exit_code { EXIT_PASS = 0, EXIT_FAIL = 1, EXIT_PANIC = 2 };

__attribute__((noreturn)) void machine_exit(enum exit_code code);

#endif
