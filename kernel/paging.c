#include <string.h>

#include "arch.h"
#include "mem.h"
#include "panic.h"

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull

#define GiB (1ull << 30)
#define MiB2 (2ull << 20)
#define DEVICE_BASE 0xfe000000ull /* virtio-mmio, I/O APICs, LAPIC up to 4 GiB */
#define STACK_WINDOW 0x0000700000000000ull

#define MSR_MTRR_DEF_TYPE 0x2ff
#define MTRR_ENABLE (1ull << 11)
#define MEMTYPE_WB 6

extern char __kernel_start[], __text_end[];

static uint64_t *pml4;
static bool nx, gib_pages;
static const char *ram_type = "write-back";
static uint64_t stack_next = STACK_WINDOW;

static uint64_t *table(void)
{
    uint64_t *t = page_alloc();
    if (!t)
        panic("paging: out of memory for page tables");
    return t;
}

/* The table that entry `e` points to, created on first use. */
static uint64_t *walk(uint64_t *e)
{
    if (!(*e & PTE_P))
        *e = (uint64_t)table() | PTE_P | PTE_W;
    return (uint64_t *)(*e & ADDR_MASK);
}

/* Identity-map [start, end) with the largest pages that fit. */
static void map_identity(uint64_t start, uint64_t end, uint64_t flags)
{
    for (uint64_t a = start & ~(MiB2 - 1); a < end;) {
        uint64_t *pdpt = walk(&pml4[(a >> 39) & 511]);
        uint64_t *pdpte = &pdpt[(a >> 30) & 511];
        if (gib_pages && !(a & (GiB - 1)) && a + GiB <= end && !(*pdpte & PTE_P)) {
            *pdpte = a | PTE_P | PTE_W | PTE_PS | flags;
            a += GiB;
            continue;
        }
        uint64_t *pd = walk(pdpte);
        pd[(a >> 21) & 511] = a | PTE_P | PTE_W | PTE_PS | flags;
        a += MiB2;
    }
}

/*
 * Make RAM write-back. Firmware normally sets the MTRRs; PVH entry under microvm has none,
 * so they keep their reset state, in which MTRRs are off and every byte is uncacheable.
 * TCG ignores memory types and VT-x KVM mostly overrides the guest's, but a hypervisor
 * that honours them (this machine's PVM) ran the whole kernel uncached: a 4 KiB memset
 * took 70 us and an HTTP request 20 ms of CPU. Only the default type changes: ranges a
 * firmware did set stay, and the device window is uncached by its page flags (PAT).
 */
static void ram_write_back(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[3] & (1u << 12))) {
        ram_type = "as the machine has it (no MTRRs)";
        return;
    }
    uint64_t def = rdmsr(MSR_MTRR_DEF_TYPE);
    if ((def & MTRR_ENABLE) && (def & 0xff) == MEMTYPE_WB)
        return;
    wrmsr(MSR_MTRR_DEF_TYPE, (def & ~0xffull) | MTRR_ENABLE | MEMTYPE_WB);
    __asm__ volatile("wbinvd" ::: "memory"); /* nothing cached under the old type remains */
    ram_type = (def & MTRR_ENABLE) ? "write-back (MTRR default was not)"
                                   : "write-back (MTRRs were off: uncached)";
}

const char *paging_ram_type(void)
{
    return ram_type;
}

void paging_init(void)
{
    uint32_t r[4];
    ram_write_back();
    cpuid(0x80000000, 0, r);
    if (r[0] >= 0x80000001) {
        cpuid(0x80000001, 0, r);
        nx = r[3] & (1u << 20);
        gib_pages = r[3] & (1u << 26);
    }
    if (nx)
        wrmsr(0xc0000080, rdmsr(0xc0000080) | (1ull << 11)); /* EFER.NXE */
    uint64_t data = nx ? PTE_NX : 0;
    pml4 = table();

    /* The kernel's text lives in the first 2 MiB page; only that page is executable. */
    uint64_t text_end = ((uint64_t)__text_end + MiB2 - 1) & ~(MiB2 - 1);
    map_identity(0, text_end, 0);
    map_identity(text_end, mem_highest(), data);
    map_identity(DEVICE_BASE, 4 * GiB, data | PTE_PCD | PTE_PWT);
    write_cr3((uint64_t)pml4);
}

bool paging_nx(void)
{
    return nx;
}

const char *paging_page_size(void)
{
    return gib_pages ? "1 GiB" : "2 MiB";
}

uint64_t stack_alloc(size_t pages)
{
    /* Each stack gets a window of pages + 1: the lowest page stays unmapped (the guard). */
    uint64_t base = stack_next + PAGE_SIZE;
    for (size_t i = 0; i < pages; i++) {
        uint64_t va = base + i * PAGE_SIZE;
        uint64_t *pdpt = walk(&pml4[(va >> 39) & 511]);
        uint64_t *pd = walk(&pdpt[(va >> 30) & 511]);
        uint64_t *pt = walk(&pd[(va >> 21) & 511]);
        /* Not zeroed: a stack is written before it is read, and under PVM zeroing a page
         * costs ~0.3 ms (each iteration of rep stos is emulated). */
        void *frame = pages_alloc_unzeroed(1);
        if (!frame)
            return 0;
        pt[(va >> 12) & 511] = (uint64_t)frame | PTE_P | PTE_W | (nx ? PTE_NX : 0);
    }
    stack_next = base + pages * PAGE_SIZE;
    return base + pages * PAGE_SIZE;
}

uint64_t stack_guard(uint64_t top, size_t pages)
{
    return top - pages * PAGE_SIZE - PAGE_SIZE;
}

bool paging_mapped(uint64_t va)
{
    uint64_t e = pml4[(va >> 39) & 511];
    if (!(e & PTE_P))
        return false;
    e = ((uint64_t *)(e & ADDR_MASK))[(va >> 30) & 511];
    if (!(e & PTE_P) || (e & PTE_PS))
        return e & PTE_P;
    e = ((uint64_t *)(e & ADDR_MASK))[(va >> 21) & 511];
    if (!(e & PTE_P) || (e & PTE_PS))
        return e & PTE_P;
    e = ((uint64_t *)(e & ADDR_MASK))[(va >> 12) & 511];
    return e & PTE_P;
}
