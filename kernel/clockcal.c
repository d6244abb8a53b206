#include "clockcal.h"

void timescale_init(struct timescale *ts, uint64_t tsc0, uint64_t hz)
{
    *ts = (struct timescale){.base_tsc = tsc0};
    timescale_set_rate(ts, tsc0, hz);
    ts->base_ns = 0;
}

uint64_t timescale_ns(const struct timescale *ts, uint64_t tsc)
{
    uint64_t ticks = tsc > ts->base_tsc ? tsc - ts->base_tsc : 0;
    return ts->base_ns + (uint64_t)(((unsigned __int128)ticks * ts->mult) >> 32);
}

void timescale_set_rate(struct timescale *ts, uint64_t tsc, uint64_t hz)
{
    ts->base_ns = timescale_ns(ts, tsc);
    ts->base_tsc = tsc;
    ts->mult = (1000000000ull << 32) / hz;
    ts->hz = hz;
}

uint64_t clock_sample_tsc(const struct clock_sample *s)
{
    return s->tsc_before + (s->tsc_after - s->tsc_before) / 2;
}

const struct clock_sample *clock_sample_best(const struct clock_sample *a,
                                             const struct clock_sample *b)
{
    return b->tsc_after - b->tsc_before < a->tsc_after - a->tsc_before ? b : a;
}

uint32_t pit_ticks_between(uint32_t last, uint32_t cur)
{
    last = last ? last : 0x10000;
    cur = cur ? cur : 0x10000;
    return cur <= last ? last - cur : last + 0x10000 - cur;
}

uint64_t clock_rate(uint64_t ticks, uint64_t ref_ticks, uint64_t ref_hz)
{
    /* 64-bit division only (the kernel has no libgcc): halve both counts until the
     * product fits, which costs nothing at the sizes calibration sees. */
    while (ticks && ref_hz > UINT64_MAX / ticks) {
        ticks >>= 1;
        ref_ticks >>= 1;
    }
    if (!ref_ticks)
        return 0;
    return ticks * ref_hz / ref_ticks;
}

uint64_t clock_rate_from_seconds(uint64_t ticks, uint64_t estimate_hz, uint32_t tolerance_ppm)
{
    if (!estimate_hz)
        return 0;
    uint64_t seconds = (ticks + estimate_hz / 2) / estimate_hz;
    if (!seconds)
        return 0;
    uint64_t hz = ticks / seconds;
    uint64_t off = hz > estimate_hz ? hz - estimate_hz : estimate_hz - hz;
    if ((unsigned __int128)off * 1000000 > (unsigned __int128)estimate_hz * tolerance_ppm)
        return 0;
    return hz;
}

uint64_t rtc_edges_feed(struct rtc_edges *e, uint64_t tsc, uint64_t estimate_hz,
                        uint32_t tolerance_ppm)
{
    if (e->n == 3) {
        e->tsc[0] = e->tsc[1];
        e->tsc[1] = e->tsc[2];
        e->n = 2;
    }
    e->tsc[e->n++] = tsc;
    if (e->n < 3)
        return 0;
    uint64_t a = clock_rate_from_seconds(e->tsc[1] - e->tsc[0], estimate_hz, tolerance_ppm);
    uint64_t b = clock_rate_from_seconds(e->tsc[2] - e->tsc[1], estimate_hz, tolerance_ppm);
    if (!a || !b)
        return 0;
    uint64_t off = a > b ? a - b : b - a;
    if ((unsigned __int128)off * 1000000 > (unsigned __int128)a * RTC_AGREE_PPM)
        return 0;
    return clock_rate_from_seconds(e->tsc[2] - e->tsc[0], estimate_hz, tolerance_ppm);
}
