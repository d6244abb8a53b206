#include "costs.h"

#include <string.h>

#include "apic.h"
#include "arch.h"
#include "clock.h"
#include "printk.h"
#include "trap.h"
#include "virtio/mmio.h"

#define ROUNDS 200

static uint64_t base; /* the NIC's registers, or 0 without one */
static uint8_t copy_src[4096], copy_dst[4096];
static volatile uint64_t sink;

static void op_rdtsc(void) { (void)rdtsc(); }
static void op_cli_sti(void) { cli(); sti(); }
static void op_irq_save(void) { irq_restore(irq_save()); }
static void op_lapic_read(void) { (void)apic_timer_current(); }
static void op_lapic_write(void) { apic_timer_oneshot(0); }
static void op_port(void) { outb(0x80, 0); } /* the POST port: nobody listens */
static void op_mmio_read(void) { (void)mmio_read32(base + VIRTIO_MMIO_MAGIC); }
static void op_mmio_write(void) { mmio_write32(base + VIRTIO_MMIO_QUEUE_SEL, 0); }

static void op_copy_4k(void) { memcpy(copy_dst, copy_src, sizeof(copy_dst)); }

/* 4096 dependent adds: what the CPU does between traps, for scale. */
static void op_add_4k(void)
{
    uint64_t x = sink;
    for (int i = 0; i < 4096; i++)
        x = x * 3 + 1;
    sink = x;
}

/* The LAPIC timer armed 50 us ahead, then halted on: what waking from idle costs, the
 * 50 us included (measure subtracts them). Not one tick: with a timer that expires at
 * once QEMU's TCG once never woke the halt. And periodic, its period restarted before
 * each halt, so the halt still wakes 50 us after the arm, but a wake lost to a race (TCG
 * on a loaded host once hung here, in CI) costs one more period, not the boot: a
 * diagnostic must not hang. The scheduler's handler is set aside meanwhile, as it would
 * re-arm or stop the timer; the interrupts are only counted. */
#define WAKE_AFTER_NS 50000

static uint32_t wake_ticks;

static void op_timer_wake(void)
{
    apic_timer_periodic(wake_ticks);
    sti_hlt();
    cli();
}

static void measure(const char *name, void (*op)(void), uint64_t built_in_ns)
{
    op(); /* the first may fault in a page or a translation */
    uint64_t t0 = clock_ns();
    for (int i = 0; i < ROUNDS; i++)
        op();
    uint64_t per = (clock_ns() - t0) * 10 / ROUNDS; /* tenths of a ns */
    uint64_t ns = per > built_in_ns * 10 ? per - built_in_ns * 10 : 0;
    klog("costs", "%s: %lu.%lu ns", name, ns / 10, ns % 10);
}

static void measure_timer_wake(void)
{
    void *ctx;
    trap_handler sched_alarm = trap_get_handler(VEC_TIMER, &ctx);
    trap_set_handler(VEC_TIMER, NULL, NULL);
    wake_ticks = (uint32_t)(clock_lapic_hz() / (1000000000 / WAKE_AFTER_NS));
    measure("timer interrupt wake", op_timer_wake, WAKE_AFTER_NS);
    apic_timer_periodic(0);
    trap_set_handler(VEC_TIMER, sched_alarm, ctx);
}

void costs_report(const struct device_list *devices)
{
    uint64_t flags = irq_save();
    cli();
    measure("4 KiB memcpy", op_copy_4k, 0);
    measure("4096 multiply-adds", op_add_4k, 0);
    measure("rdtsc", op_rdtsc, 0);
    measure("cli; sti", op_cli_sti, 0);
    measure("pushf; cli; popf", op_irq_save, 0);
    measure("LAPIC register read", op_lapic_read, 0);
    measure("LAPIC register write", op_lapic_write, 0);
    measure("I/O port write", op_port, 0);
    base = devices->n ? devices->dev[0].base : 0;
    if (base) {
        measure("virtio-mmio read", op_mmio_read, 0);
        measure("virtio-mmio write", op_mmio_write, 0);
    }
    measure_timer_wake();
    irq_restore(flags);
}
