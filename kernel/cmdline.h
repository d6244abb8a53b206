/*
 * cmdline.h — the kernel command line (-append): space-separated key=value.
 *
 *   ip=A.B.C.D/N    our address (default 10.0.2.15/24, QEMU user networking's)
 *   gw=A.B.C.D      gateway (default 10.0.2.2)
 *   port=N          HTTP port (default 80)
 *   log=info|debug
 *   log=sync        write each log line to the UART at once instead of when idle (for a
 *                   hang during boot); combines with log=debug as a second word
 *   seed=N          the stack's randomness (ISNs, IP ids) from N instead of the TSC, so a
 *                   recorded session can be replayed with the same seed
 *   selftest        run the in-kernel tests and exit with their verdict
 *   selftest=fail   the same plus one check that must fail: proves failure reaches the exit
 *   panic=test      fault on purpose, to show the panic path
 *   panic=stack     overflow a task's stack into its guard page (double fault on IST1)
 *   virtio_mmio.device=SIZE@BASE:IRQ   (QEMU adds these with acpi=off) transports to probe
 *
 * Pure C (no kernel dependencies) so the host tests can check it. Unknown keys and bad
 * values are reported through `warn` and ignored: a typo never stops a boot.
 */
#ifndef KERNEL_CMDLINE_H
#define KERNEL_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

#define CMDLINE_MAX_MMIO 32

struct cmdline_mmio {
    uint64_t base;
    uint64_t size;
    uint32_t irq;
};

struct cmdline {
    uint32_t ip;
    uint8_t prefix_len;
    uint32_t gw;
    uint16_t port;
    bool has_seed;
    uint64_t seed;
    bool debug;
    bool log_sync;
    bool selftest;
    bool selftest_fail;
    bool costs; /* measure what the machine charges for each privileged operation */
    bool panic_test;
    bool panic_stack;
    struct cmdline_mmio mmio[CMDLINE_MAX_MMIO];
    unsigned n_mmio;
};

/* `warn(ctx, message, word)` is called for each word that was ignored. */
void cmdline_parse(const char *s, struct cmdline *out,
                   void (*warn)(void *ctx, const char *why, const char *word, int len),
                   void *ctx);

#endif
