/*
 * apic.h — the local APIC (timer, EOI, self-IPI) and the I/O APICs (device interrupts).
 *
 * The 8259 PICs are masked for good at init; nothing depends on them or on the PIT after
 * boot. microvm has one I/O APIC at 0xfec00000 for GSIs 0-23 and, with ACPI (its default),
 * a second at 0xfec10000 for GSIs 24-47 (where its virtio-mmio transports interrupt).
 * The second is found by probing its version register rather than parsing ACPI's MADT:
 * microvm puts nothing else there.
 */
#ifndef KERNEL_APIC_H
#define KERNEL_APIC_H

#include <stdbool.h>
#include <stdint.h>

void apic_init(void);
void apic_eoi(void);
/* Send ourselves interrupt `vector` (fixed delivery). */
void apic_self_ipi(uint8_t vector);
/* Local APIC timer: one-shot after `ticks` timer ticks at vector VEC_TIMER; 0 stops it. */
void apic_timer_oneshot(uint32_t ticks);
/* The same timer firing every `ticks` until apic_timer_periodic(0) returns it to one-shot,
 * stopped (a diagnostic's backstop: a lost interrupt is followed by another). */
void apic_timer_periodic(uint32_t ticks);
uint32_t apic_timer_current(void);
/* Number of GSIs the I/O APICs cover (24 or 48). */
unsigned ioapic_gsi_count(void);
/* Route `gsi` to `vector` on CPU 0, edge-triggered, active high, unmasked. */
bool ioapic_route(unsigned gsi, uint8_t vector);
void ioapic_mask(unsigned gsi);

#endif
