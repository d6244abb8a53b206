#include "apic.h"

#include "arch.h"
#include "printk.h"
#include "trap.h"

#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID 0x020
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LVT_TIMER_PERIODIC (1u << 17)
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LVT_MASKED (1u << 16)

#define IOAPIC0 0xfec00000ull
#define IOAPIC1 0xfec10000ull
#define IOAPIC_SEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDIR 0x10

static unsigned gsi_count;

static uint32_t lapic_read(uint32_t reg)
{
    return mmio_read32(LAPIC_BASE + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    mmio_write32(LAPIC_BASE + reg, v);
}

static uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
    mmio_write32(base + IOAPIC_SEL, reg);
    return mmio_read32(base + IOAPIC_WIN);
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
    mmio_write32(base + IOAPIC_SEL, reg);
    mmio_write32(base + IOAPIC_WIN, v);
}

/* Entries of the I/O APIC at `base`, or 0 if nothing answers there like one. */
static unsigned ioapic_entries(uint64_t base)
{
    uint32_t ver = ioapic_read(base, IOAPIC_VER);
    if (ver == 0 || ver == 0xffffffffu)
        return 0;
    return ((ver >> 16) & 0xff) + 1;
}

static void pic_disable(void)
{
    /* Mask both 8259s: with the I/O APIC in charge they must never raise a vector. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

void apic_init(void)
{
    pic_disable();
    wrmsr(0x1b, rdmsr(0x1b) | (1u << 11)); /* IA32_APIC_BASE: global enable */
    lapic_write(LAPIC_SVR, 0x100 | 0xff);  /* software enable, spurious vector 255 */
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
    lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
    lapic_write(LAPIC_TIMER_DIV, 0x3);      /* divide by 16 */
    lapic_write(LAPIC_LVT_TIMER, VEC_TIMER); /* one-shot */
    lapic_write(LAPIC_TIMER_INIT, 0);
    trap_set_eoi(apic_eoi);

    unsigned first = ioapic_entries(IOAPIC0);
    unsigned second = first ? ioapic_entries(IOAPIC1) : 0;
    gsi_count = first + second;
    for (unsigned gsi = 0; gsi < gsi_count; gsi++)
        ioapic_mask(gsi);
    klog("interrupts", "local APIC id %u, %u I/O APIC(s) with %u GSIs, 8259 masked",
         lapic_read(LAPIC_ID) >> 24, second ? 2 : (first ? 1 : 0), gsi_count);
}

void apic_eoi(void)
{
    lapic_write(LAPIC_EOI, 0);
}

void apic_self_ipi(uint8_t vector)
{
    lapic_write(LAPIC_ICR_HI, 0);
    lapic_write(LAPIC_ICR_LO, (1u << 18) | vector); /* shorthand: self, fixed */
}

void apic_timer_oneshot(uint32_t ticks)
{
    lapic_write(LAPIC_TIMER_INIT, ticks);
}

void apic_timer_periodic(uint32_t ticks)
{
    lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | (ticks ? LVT_TIMER_PERIODIC : 0));
    lapic_write(LAPIC_TIMER_INIT, ticks);
}

uint32_t apic_timer_current(void)
{
    return lapic_read(LAPIC_TIMER_CUR);
}

unsigned ioapic_gsi_count(void)
{
    return gsi_count;
}

static uint64_t ioapic_for(unsigned *gsi)
{
    if (*gsi < 24)
        return IOAPIC0;
    *gsi -= 24;
    return IOAPIC1;
}

bool ioapic_route(unsigned gsi, uint8_t vector)
{
    if (gsi >= gsi_count)
        return false;
    uint64_t base = ioapic_for(&gsi);
    ioapic_write(base, IOAPIC_REDIR + 2 * gsi + 1, 0); /* destination: APIC id 0 */
    ioapic_write(base, IOAPIC_REDIR + 2 * gsi, vector); /* fixed, edge, high, unmasked */
    return true;
}

void ioapic_mask(unsigned gsi)
{
    if (gsi >= gsi_count)
        return;
    uint64_t base = ioapic_for(&gsi);
    ioapic_write(base, IOAPIC_REDIR + 2 * gsi, LVT_MASKED);
}
