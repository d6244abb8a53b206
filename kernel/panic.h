/*
 * panic.h — the kernel's one way to die: say why, where, the registers when a trap
 * caused it, a frame-pointer backtrace, then machine_exit(EXIT_PANIC).
 */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <stdint.h>

struct trap_frame;

__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);
/* A CPU exception: decode it and panic with the saved registers. */
__attribute__((noreturn)) void panic_trap(const struct trap_frame *f);
void backtrace_from(uint64_t rbp);

#define ASSERT(cond)                                                                           \
    do {                                                                                       \
        if (!(cond))                                                                           \
            panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);                  \
    } while (0)

#endif
