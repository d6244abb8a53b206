/*
 * kmain.c — the kernel's one ordered bring-up, a line per subsystem, then the idle loop.
 */
#include <stdint.h>

#include "arch.h"
#include "cmdline.h"
#include "exit.h"
#include "panic.h"
#include "printk.h"
#include "pvh.h"
#include "serial.h"
#include "trap.h"

void kmain(uint32_t start_info_paddr);

static void warn_word(void *ctx, const char *why, const char *word, int len)
{
    (void)ctx;
    kprintf("cmdline: %s: ", why);
    for (int i = 0; i < len; i++)
        kprintf("%c", word[i]);
    kprintf("\n");
}

static void deliberate_fault(void)
{
    /* A write through a non-canonical address: #GP, the panic path's test. */
    *(volatile uint64_t *)0xdead000000000000ull = 1;
}

void kmain(uint32_t start_info_paddr)
{
    const struct pvh_start_info *si = (const struct pvh_start_info *)(uintptr_t)start_info_paddr;
    struct cmdline cmd;

    serial_init();
    trap_init();
    if (!si || si->magic != PVH_START_MAGIC)
        panic("boot: no PVH start info (magic %x)", si ? si->magic : 0);
    const char *line = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
    kprintf("Quartz unikernel\n");
    klog("cmdline", "\"%s\"", line);
    cmdline_parse(line, &cmd, warn_word, 0);
    printk_set_debug(cmd.debug);

    if (cmd.panic_test) {
        klog("panic", "panic=test: faulting on purpose");
        deliberate_fault();
    }
    if (cmd.selftest)
        machine_exit(EXIT_PASS);
    for (;;)
        sti_hlt();
}
