#include "mem.h"

#include <string.h>

#include "panic.h"

#define MAX_REGIONS 32
#define LOW_LIMIT 0x100000ull /* below 1 MiB: firmware, start info, real-mode leftovers */

extern char __kernel_end[];

struct region {
    uint64_t next; /* bump pointer */
    uint64_t end;
};

static struct region regions[MAX_REGIONS];
static unsigned n_regions;
static uint64_t free_list; /* physical address of the first free page; 0 = empty */
static struct mem_stats stats;
static uint64_t ram_bytes;

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

void mem_init(const struct pvh_start_info *si)
{
    if (si->version < 1 || !si->memmap_paddr || !si->memmap_entries)
        panic("memory: the boot loader gave no memory map");
    const struct pvh_memmap_entry *e = (const struct pvh_memmap_entry *)(uintptr_t)si->memmap_paddr;
    uint64_t kernel_end = align_up((uint64_t)__kernel_end, PAGE_SIZE);
    for (uint32_t i = 0; i < si->memmap_entries; i++) {
        if (e[i].type != PVH_MEMMAP_RAM)
            continue;
        ram_bytes += e[i].size;
        uint64_t start = align_up(e[i].addr, PAGE_SIZE);
        uint64_t end = (e[i].addr + e[i].size) & ~(PAGE_SIZE - 1);
        if (start < kernel_end)
            start = kernel_end; /* also skips everything below 1 MiB */
        if (start < LOW_LIMIT)
            start = LOW_LIMIT;
        if (end <= start)
            continue;
        if (n_regions == MAX_REGIONS)
            break;
        regions[n_regions++] = (struct region){start, end};
        stats.total_bytes += end - start;
    }
    stats.regions = n_regions;
    if (!n_regions)
        panic("memory: no usable RAM above the kernel");
}

static void account(uint64_t pages)
{
    stats.pages_used += pages;
    if (stats.pages_used > stats.pages_peak)
        stats.pages_peak = stats.pages_used;
}

void *page_alloc(void)
{
    uint64_t p = 0;
    if (free_list) {
        p = free_list;
        free_list = *(uint64_t *)p;
    } else {
        for (unsigned i = 0; i < n_regions && !p; i++)
            if (regions[i].next + PAGE_SIZE <= regions[i].end) {
                p = regions[i].next;
                regions[i].next += PAGE_SIZE;
            }
        if (!p)
            return NULL;
    }
    memset((void *)p, 0, PAGE_SIZE);
    account(1);
    return (void *)p;
}

/* `n` contiguous pages from the first range that has them, not zeroed. */
static void *take_pages(size_t n)
{
    for (unsigned i = 0; i < n_regions; i++) {
        if (regions[i].end - regions[i].next >= n * PAGE_SIZE) {
            uint64_t p = regions[i].next;
            regions[i].next += n * PAGE_SIZE;
            account(n);
            return (void *)p;
        }
    }
    return NULL;
}

void *pages_alloc(size_t n)
{
    if (n == 1)
        return page_alloc();
    void *p = take_pages(n);
    if (p)
        memset(p, 0, n * PAGE_SIZE);
    return p;
}

void *pages_alloc_unzeroed(size_t n)
{
    return take_pages(n);
}

void page_free(void *page)
{
    uint64_t p = (uint64_t)page;
    ASSERT(p && !(p & (PAGE_SIZE - 1)));
    *(uint64_t *)p = free_list;
    free_list = p;
    stats.pages_used--;
}

const struct mem_stats *mem_stats(void)
{
    return &stats;
}

uint64_t mem_ram_bytes(void)
{
    return ram_bytes;
}

uint64_t mem_highest(void)
{
    uint64_t hi = 0;
    for (unsigned i = 0; i < n_regions; i++)
        if (regions[i].end > hi)
            hi = regions[i].end;
    return hi;
}
