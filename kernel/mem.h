/*
 * mem.h — physical pages, the identity map, and stacks with guard pages.
 *
 * mem_init() takes the usable RAM ranges from the boot memory map (less the kernel image
 * and the first MiB) without touching them: pages are handed out by a bump pointer per
 * range plus a free list, and zeroed only when allocated, because on this machine's KVM
 * merely touching guest RAM costs ~1.7 us per page. Running out is NULL for the caller,
 * never silent corruption.
 *
 * paging_init() replaces the boot page tables with an identity map of all RAM and the
 * device window at 0xfe000000 (2 MiB pages, or 1 GiB pages where the CPU has them), NX on
 * everything but the kernel's text when the CPU supports NX.
 *
 * stack_alloc() maps a stack in its own virtual window with an unmapped guard page below
 * it: an overflow faults (and reports through the double-fault stack) instead of
 * scribbling over its neighbour.
 */
#ifndef KERNEL_MEM_H
#define KERNEL_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvh.h"

#define PAGE_SIZE 4096ull

struct mem_stats {
    uint64_t total_bytes;  /* usable RAM handed to the allocator */
    uint64_t pages_used;   /* currently allocated */
    uint64_t pages_peak;
    uint64_t regions;
};

void mem_init(const struct pvh_start_info *si);
/* One zeroed page, or NULL when memory is exhausted. */
void *page_alloc(void);
/* `n` physically contiguous zeroed pages, or NULL. */
void *pages_alloc(size_t n);
/* The same without zeroing, for large buffers whose bytes are always written before they
 * are read (TCP rings): under PVM the first touch of each page costs ~70 us, so zeroing
 * 32 MiB at boot would delay the network by seconds; this way each page is paid for
 * when a connection first uses it. */
void *pages_alloc_unzeroed(size_t n);
void page_free(void *page);
const struct mem_stats *mem_stats(void);
/* The end of the highest usable RAM range (what the identity map must cover). */
uint64_t mem_highest(void);
/* Bytes of RAM reported by the memory map (for the boot log). */
uint64_t mem_ram_bytes(void);

void paging_init(void);
bool paging_nx(void);
const char *paging_page_size(void);
/* How RAM is cached, for the boot log: "write-back", and what it was if we changed it. */
const char *paging_ram_type(void);

/* A stack of `pages` pages with a guard page below; returns its top, or 0. */
uint64_t stack_alloc(size_t pages);
/* The guard page of the stack whose top is `top` (for the self-test that probes it). */
uint64_t stack_guard(uint64_t top, size_t pages);
/* Whether `va` is mapped in the current tables (self-tests check guard pages with it). */
bool paging_mapped(uint64_t va);

#endif
