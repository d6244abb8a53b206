/*
 * clockcal.h — the clock's arithmetic, apart from any hardware (host-tested).
 *
 * A timescale turns TSC ticks into monotonic nanoseconds at one rate; changing the rate
 * re-bases it at the switch point, so time never jumps or runs backwards. The rest turns
 * bracketed readings of a reference clock (the PIT, the RTC's second edge) into a TSC rate:
 * every reading is taken between two TSC reads, and a reading with a narrow bracket is
 * trusted over one the host stalled.
 */
#ifndef KERNEL_CLOCKCAL_H
#define KERNEL_CLOCKCAL_H

#include <stdbool.h>
#include <stdint.h>

struct timescale {
    uint64_t base_tsc, base_ns; /* ns at base_tsc */
    uint64_t mult;              /* ns per tick << 32 */
    uint64_t hz;
};

/* A timescale at `hz` with time 0 at `tsc0`. */
void timescale_init(struct timescale *ts, uint64_t tsc0, uint64_t hz);
uint64_t timescale_ns(const struct timescale *ts, uint64_t tsc);
/* Run at `hz` from `tsc` on; the time at `tsc` stays what it was. */
void timescale_set_rate(struct timescale *ts, uint64_t tsc, uint64_t hz);

/* One reading of a reference counter between two TSC reads. */
struct clock_sample {
    uint64_t tsc_before, tsc_after;
    uint64_t ref;   /* reference ticks since the first sample, counting up */
    uint32_t lapic; /* the LAPIC timer's current count (counts down) */
};
uint64_t clock_sample_tsc(const struct clock_sample *s); /* the bracket's midpoint */
/* The narrower-bracketed of a and b (a on a tie). */
const struct clock_sample *clock_sample_best(const struct clock_sample *a,
                                             const struct clock_sample *b);

/* PIT channel 0 counts down from 65536 (read as 0); ticks from `last` to `cur`. */
uint32_t pit_ticks_between(uint32_t last, uint32_t cur);

/* Rate of a clock that advanced `ticks` while one at `ref_hz` advanced `ref_ticks`. */
uint64_t clock_rate(uint64_t ticks, uint64_t ref_ticks, uint64_t ref_hz);

/* The TSC rate from `ticks` between two RTC second edges, given the current estimate:
 * a whole number of seconds passed (an edge may have been missed); 0 when the interval
 * is no whole number of seconds within `tolerance_ppm` of the estimate. */
uint64_t clock_rate_from_seconds(uint64_t ticks, uint64_t estimate_hz, uint32_t tolerance_ppm);

/* The RTC's second edges as the clock sees them: stamped on interrupt entry, so a host
 * that delays one edge (descheduling the guest) makes the interval before it long and the
 * one after short. A rate is trusted once two consecutive intervals agree. */
#define RTC_AGREE_PPM 500
struct rtc_edges {
    uint64_t tsc[3]; /* the last three edges, oldest first */
    unsigned n;
};
/* Feed one edge; the TSC rate over the last two intervals once they agree, else 0. */
uint64_t rtc_edges_feed(struct rtc_edges *e, uint64_t tsc, uint64_t estimate_hz,
                        uint32_t tolerance_ppm);

#endif
