/*
 * kmain.c — the kernel's one ordered bring-up, a line per subsystem, then the idle loop.
 */
#include <stdint.h>

#include "apic.h"
#include "arch.h"
#include "clock.h"
#include "cmdline.h"
#include "console.h"
#include "costs.h"
#include "devices.h"
#include "exit.h"
#include "mem.h"
#include "net.h"
#include "panic.h"
#include "printk.h"
#include "pvh.h"
#include "selftest.h"
#include "serial.h"
#include "task.h"
#include "trap.h"
#include "wallclock.h"

void kmain(uint32_t start_info_paddr);
extern uint64_t boot_tsc;

static struct device_list devices;

/* Boot phases, stamped with the raw TSC (the rate is only known once the clock is up) and
 * logged in one line once the guest serves: where the time from entry to ready (the web
 * server listening) goes. The boot words selftest and costs count in "wallclock". */
enum { PH_CONSOLE, PH_MEMORY, PH_PAGING, PH_APIC, PH_CLOCK, PH_TASKS, PH_DEVICES,
       PH_WALLCLOCK, PH_NETWORK, PH_COUNT };
static uint64_t kmain_tsc, phase_tsc[PH_COUNT];

static void phase_done(unsigned ph)
{
    phase_tsc[ph] = rdtsc();
}

/* A phase's share: from the end of the one before it. */
static uint64_t phase_us(unsigned ph)
{
    return clock_tsc_to_us(phase_tsc[ph] - (ph ? phase_tsc[ph - 1] : kmain_tsc));
}

/* "boot: phases (us): entry->kmain A, console B, ...": each phase's share, in order. One
 * format, not one per phase: under PVM a ksnprintf per phase cost ~6.7k instructions. */
static void phases_report(void)
{
    _Static_assert(PH_COUNT == 9, "the format below names each phase");
    klog("boot", "phases (us): entry->kmain %lu, console %lu, memory %lu, paging %lu, apic %lu, "
         "clock %lu, tasks %lu, devices %lu, wallclock %lu, network %lu",
         clock_tsc_to_us(kmain_tsc - boot_tsc), phase_us(PH_CONSOLE), phase_us(PH_MEMORY),
         phase_us(PH_PAGING), phase_us(PH_APIC), phase_us(PH_CLOCK), phase_us(PH_TASKS),
         phase_us(PH_DEVICES), phase_us(PH_WALLCLOCK), phase_us(PH_NETWORK));
}

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

/* Recurse until the stack runs into its guard page. The #PF cannot be delivered on the
 * same dead stack, so the CPU raises a double fault, which runs on its own IST stack and
 * reports. */
static unsigned overflow(unsigned depth)
{
    volatile char pad[512];
    pad[0] = (char)depth;
    if (depth > (1u << 30)) /* never reached: the guard page stops it long before */
        return 0;
    return overflow(depth + 1) + pad[0];
}

static void overflow_task(void *arg)
{
    (void)arg;
    klog("panic", "panic=stack: overflowing a %u-page task stack", TASK_STACK_PAGES);
    overflow(0);
}

void kmain(uint32_t start_info_paddr)
{
    const struct pvh_start_info *si = (const struct pvh_start_info *)(uintptr_t)start_info_paddr;
    struct cmdline cmd;
    char ip[16], gw[16];

    kmain_tsc = rdtsc();
    serial_init();                  /* console first, so everything after can speak */
    trap_init();                    /* GDT, TSS, IDT: faults from here on are reported */
    if (!si || si->magic != PVH_START_MAGIC)
        panic("boot: no PVH start info (magic %x)", si ? si->magic : 0);
    const char *line = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
    kprintf("Quartz unikernel\n");
    klog("cmdline", "\"%s\"", line);
    cmdline_parse(line, &cmd, warn_word, 0);
    printk_set_debug(cmd.debug);
    printk_set_sync(cmd.log_sync);  /* log=sync: no deferred output, for a hang in boot */
    phase_done(PH_CONSOLE);

    mem_init(si);                   /* page allocator over the boot memory map */
    phase_done(PH_MEMORY);
    paging_init();                  /* identity map of all RAM, NX data */
    klog("memory", "%lu MiB RAM, %lu MiB free in %lu ranges, %s pages%s, %s",
         mem_ram_bytes() >> 20, mem_stats()->total_bytes >> 20, mem_stats()->regions,
         paging_page_size(), paging_nx() ? ", NX" : "", paging_ram_type());
    phase_done(PH_PAGING);
    apic_init();                    /* LAPIC on, 8259 masked, I/O APIC entries masked */
    phase_done(PH_APIC);
    clock_init();                   /* TSC frequency, LAPIC timer calibration */
    phase_done(PH_CLOCK);
    task_init();                    /* scheduler: this boot context becomes the idle task */
    phase_done(PH_TASKS);
    devices_probe(&cmd, &devices);  /* virtio-mmio transports */
    klog("network", "address %s/%u gateway %s", kfmt_ip4(cmd.ip, ip, sizeof(ip)),
         cmd.prefix_len, kfmt_ip4(cmd.gw, gw, sizeof(gw)));

    if (cmd.panic_test) {
        klog("panic", "panic=test: faulting on purpose");
        deliberate_fault();
    }
    if (cmd.panic_stack) {
        static struct task victim;
        task_spawn(&victim, "overflow", overflow_task, 0);
    }
    phase_done(PH_DEVICES);
    if (cmd.selftest)
        selftest_run(cmd.selftest_fail);
    if (cmd.costs)
        costs_report(&devices);
    wallclock_init();               /* time of day for Date headers, if the machine has one */
    phase_done(PH_WALLCLOCK);
    net_start(&cmd, &devices);      /* NIC + netstack + web server in their own task */
    phase_done(PH_NETWORK);
    /* Ready: the web server listens (its task answers from the first idle halt on). */
    uint64_t boot_ns = clock_ns();
    klog("boot", "ready in %lu.%03lu ms from entry", boot_ns / 1000000, boot_ns / 1000 % 1000);
    phases_report();
    /* The boot log goes out now, before the tasks start: whoever waits for the listening
     * line (make run, a test, an orchestrator) sees it as soon as it is true, instead of
     * after the network task's first round, whose code runs for the first time (QEMU start
     * -> line seen, medians of alternating boots: KVM 147 -> 128 ms, TCG 46 -> 43 ms). A
     * frame arriving meanwhile waits in the ring for the log's last bytes, ~1 KiB. */
    printk_flush();
    console_start();                /* commands on the serial port, in their own task */
    clock_refine_start();           /* a PIT-timed TSC rate, refined on the RTC's seconds */
    /* Idle: send the queued log, then halt until the next deadline or interrupt. With
     * nothing pending no alarm is armed at all, so an idle guest costs the host nothing. */
    for (;;)
        task_idle_once();
}
