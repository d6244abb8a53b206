/* selftest.h — in-kernel tests (`selftest` on the command line): memory, timer,
 * interrupts, scheduler, run on the real machine; the verdict leaves through
 * isa-debug-exit (QEMU exits 1 when all pass, 3 when one fails). */
#ifndef KERNEL_SELFTEST_H
#define KERNEL_SELFTEST_H

__attribute__((noreturn)) void selftest_run(void);

#endif
