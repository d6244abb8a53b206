/*
 * clock.h — monotonic time and the one-shot alarm.
 *
 * Time is nanoseconds since the kernel's first instruction (the TSC read in boot.S).
 * clock_init() finds the TSC frequency — CPUID leaf 0x15 when the CPU states it, else
 * KVM's pvclock parameters (exact under KVM), else 0.5 ms of the PIT, polled once at boot
 * (its interrupt is never used; good to ~0.3%) — and times the local APIC timer against
 * the TSC. A PIT rate is refined once the guest serves: clock_refine_start() times the TSC
 * across the RTC's second edges (its update interrupt, IRQ 8) until two intervals agree,
 * then re-bases the clock so time stays continuous, lets LAPIC alarms follow and
 * re-anchors the wall clock on that edge. Without an RTC the PIT's rate stays, and the log says so.
 * clock_set_alarm() arms the LAPIC timer to fire VEC_TIMER at an absolute time, which is
 * how the idle loop halts until the next deadline instead of ticking.
 */
#ifndef KERNEL_CLOCK_H
#define KERNEL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* One reading of KVM's pvclock (none outside KVM): its TSC-to-ns scale, and the host's
 * system time (ns) at a TSC stamp. The TSC rate and the wall clock both come from it. */
struct kvmclock {
    uint64_t tsc_timestamp, system_time;
    uint32_t mul;
    int8_t shift;
};
bool kvmclock_sample(struct kvmclock *k);

void clock_init(void);
/* Refine a PIT-calibrated rate from the RTC's seconds, in the background (interrupts). */
void clock_refine_start(void);
uint64_t clock_ns(void);
/* A TSC interval in microseconds, at the current rate. */
uint64_t clock_tsc_to_us(uint64_t ticks);
/* Fire VEC_TIMER at `deadline` (ns); UINT64_MAX disarms. A past deadline fires at once. */
void clock_set_alarm(uint64_t deadline);
uint64_t clock_tsc_hz(void);
uint64_t clock_lapic_hz(void);
bool clock_tsc_invariant(void);
const char *clock_source(void);
/* Busy-wait (for calibration and self-tests only). */
void clock_spin_ns(uint64_t ns);

#endif
