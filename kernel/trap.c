#include "trap.h"

#include <stddef.h>
#include <string.h>

#include "panic.h"

#define GDT_CODE 0x08
#define GDT_DATA 0x10
#define GDT_TSS 0x18

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct idt_gate {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
}; /* every field at its natural alignment: no packing needed */
_Static_assert(sizeof(struct idt_gate) == 16, "an IDT gate is two 64-bit words");

struct table_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

extern char trap_stubs[];

static uint64_t gdt[5];
static struct tss tss;
static struct idt_gate idt[256] __attribute__((aligned(16)));
static uint8_t df_stack[8192] __attribute__((aligned(16)));
static struct {
    trap_handler fn;
    void *ctx;
} handlers[256];
static uint64_t counts[256];
static void (*eoi_fn)(void);
static void (*after_irq_fn)(void);

static void load_gdt(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffffull; /* 64-bit code */
    gdt[2] = 0x00cf92000000ffffull; /* data */
    uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
    gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
    gdt[4] = base >> 32;
    tss.ist[0] = (uint64_t)(df_stack + sizeof(df_stack)); /* IST1 */
    tss.iomap_base = sizeof(tss);
    struct table_ptr p = {sizeof(gdt) - 1, (uint64_t)gdt};
    __asm__ volatile("lgdt %0\n"
                     "mov %1, %%ds\n mov %1, %%es\n mov %1, %%ss\n"
                     "pushq %2\n lea 1f(%%rip), %%rax\n pushq %%rax\n lretq\n1:\n"
                     "ltr %w3"
                     :
                     : "m"(p), "r"((uint64_t)GDT_DATA), "i"(GDT_CODE), "r"(GDT_TSS)
                     : "rax", "memory");
}

void trap_init(void)
{
    load_gdt();
    /* The gates differ only in off_lo: the stubs are 16 bytes apart in one page-aligned
     * table (trap_entry.S), so no stub's address carries out of its low 16 bits. One gate
     * stepped through the table is a fifth of the instructions of building each from its
     * fields, and under PVM every instruction is emulated. */
    uint64_t addr = (uint64_t)trap_stubs;
    struct idt_gate first = {.off_lo = (uint16_t)addr, .sel = GDT_CODE, .type = 0x8e,
                             .off_mid = (uint16_t)(addr >> 16), .off_hi = (uint32_t)(addr >> 32)};
    uint64_t w[2];
    memcpy(w, &first, sizeof(w));
    uint64_t *gate = (uint64_t *)idt; /* aligned(16) above, two words a gate */
    for (uint64_t v = 0; v < 256; v++, gate += 2) {
        gate[0] = w[0] + 16 * v; /* off_lo is the low 16 bits of the first word */
        gate[1] = w[1];
    }
    idt[8].ist = 1; /* double fault: its own stack, since the faulting one may be dead */
    struct table_ptr p = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" ::"m"(p));
}

void trap_set_handler(uint8_t vector, trap_handler h, void *ctx)
{
    handlers[vector].fn = h;
    handlers[vector].ctx = ctx;
}

trap_handler trap_get_handler(uint8_t vector, void **ctx)
{
    *ctx = handlers[vector].ctx;
    return handlers[vector].fn;
}

bool trap_has_handler(uint8_t vector)
{
    return handlers[vector].fn != 0;
}

void trap_set_after_irq(void (*fn)(void))
{
    after_irq_fn = fn;
}

void trap_set_eoi(void (*eoi)(void))
{
    eoi_fn = eoi;
}

uint64_t trap_count(uint8_t vector)
{
    return counts[vector];
}

void trap_dispatch(struct trap_frame *f);

void trap_dispatch(struct trap_frame *f)
{
    uint8_t v = (uint8_t)f->vector;
    counts[v]++;
    if (v < VEC_FIRST_IRQ)
        panic_trap(f);
    if (v == VEC_SPURIOUS)
        return; /* no EOI for spurious interrupts (SDM 10.9) */
    if (handlers[v].fn)
        handlers[v].fn(f, handlers[v].ctx);
    if (eoi_fn)
        eoi_fn();
    if (after_irq_fn)
        after_irq_fn();
}
