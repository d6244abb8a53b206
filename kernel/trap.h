/*
 * trap.h — CPU exceptions and interrupt vectors.
 *
 * trap_init() loads our GDT (with a TSS whose IST1 is a separate stack, so a double
 * fault from a blown stack still reports) and an IDT covering all 256 vectors. Vectors
 * 0-31 are exceptions and panic with a register dump; 32-254 go to handlers registered
 * with trap_set_handler() (device interrupts, the timer, IPIs); 255 is the spurious
 * vector and is ignored. Handlers run with interrupts off.
 */
#ifndef KERNEL_TRAP_H
#define KERNEL_TRAP_H

#include <stdbool.h>
#include <stdint.h>

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

#define VEC_FIRST_IRQ 32
#define VEC_TIMER 32
#define VEC_DEVICE_BASE 48 /* device interrupts: 48 + I/O APIC input */
#define VEC_SPURIOUS 255

typedef void (*trap_handler)(const struct trap_frame *f, void *ctx);

void trap_init(void);
void trap_set_handler(uint8_t vector, trap_handler h, void *ctx);
bool trap_has_handler(uint8_t vector);
/* The handler of `vector` (NULL: none, the interrupt is only counted), and its ctx. */
trap_handler trap_get_handler(uint8_t vector, void **ctx);
/* Called after each interrupt handler: acknowledge the interrupt (the LAPIC's EOI). */
void trap_set_eoi(void (*eoi)(void));
/* Called after the EOI of every device or timer interrupt, on the interrupted stack:
 * where the scheduler preempts. */
void trap_set_after_irq(void (*fn)(void));
/* How many interrupts each vector has taken (for self-tests and stats). */
uint64_t trap_count(uint8_t vector);

#endif
