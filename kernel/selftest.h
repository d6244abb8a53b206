/* selftest.h — in-kernel tests (`selftest` on the command line): memory, timer,
 * interrupts, scheduler, run on the real machine; the verdict leaves through
 * isa-debug-exit (QEMU exits 1 when all pass, 3 when one fails). */
#ifndef KERNEL_SELFTEST_H
#define KERNEL_SELFTEST_H

#include <stdbool.h>

/* `deliberate_failure`: add one check that must fail (selftest=fail), so a test can show
 * that a failure reaches the exit status. */
__attribute__((noreturn)) void selftest_run(bool deliberate_failure);

#endif
