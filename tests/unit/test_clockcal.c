/* The clock's arithmetic on the host: re-basing keeps time continuous, bracketed samples,
 * PIT wrap-around, and the TSC rate from the RTC's second edges. */
#include <criterion/criterion.h>

#include "../../kernel/clockcal.h"

Test(clockcal, timescale_counts_nanoseconds_from_its_zero)
{
    struct timescale ts;
    timescale_init(&ts, 1000, 2000000000ull); /* 2 GHz: half a ns a tick */
    cr_assert_eq(timescale_ns(&ts, 1000), 0);
    cr_assert_eq(timescale_ns(&ts, 1000 + 2000000000ull), 1000000000ull);
    cr_assert_eq(timescale_ns(&ts, 500), 0, "a stamp before zero reads as zero");
}

Test(clockcal, a_new_rate_keeps_time_continuous_and_never_backwards)
{
    struct timescale ts;
    uint64_t hz = 2600000000ull;
    timescale_init(&ts, 0, hz + hz / 100); /* the short calibration read 1% fast */
    uint64_t switch_at = 3 * hz;              /* three seconds of real time */
    uint64_t before = timescale_ns(&ts, switch_at);
    timescale_set_rate(&ts, switch_at, hz);
    cr_assert_eq(timescale_ns(&ts, switch_at), before);
    cr_assert_geq(timescale_ns(&ts, switch_at + 1), before);
    /* From the switch on, a second of ticks is a second. */
    uint64_t later = timescale_ns(&ts, switch_at + hz);
    cr_assert(later - before >= 999999999 && later - before <= 1000000001, "%lu",
              (unsigned long)(later - before));
    /* Slowing the rate down must not step back either. */
    timescale_set_rate(&ts, switch_at + hz, hz * 2);
    cr_assert_eq(timescale_ns(&ts, switch_at + hz), later);
}

Test(clockcal, a_sample_is_taken_at_its_brackets_midpoint_and_narrow_beats_wide)
{
    struct clock_sample wide = {.tsc_before = 100, .tsc_after = 300};
    struct clock_sample narrow = {.tsc_before = 150, .tsc_after = 160};
    cr_assert_eq(clock_sample_tsc(&wide), 200);
    cr_assert_eq(clock_sample_tsc(&narrow), 155);
    cr_assert_eq(clock_sample_best(&wide, &narrow), &narrow);
    cr_assert_eq(clock_sample_best(&narrow, &wide), &narrow);
    cr_assert_eq(clock_sample_best(&narrow, &narrow), &narrow);
}

Test(clockcal, pit_ticks_count_down_through_the_wrap)
{
    cr_assert_eq(pit_ticks_between(0, 65535), 1, "0 reads as 65536");
    cr_assert_eq(pit_ticks_between(1000, 400), 600);
    cr_assert_eq(pit_ticks_between(10, 65530), 16);
    cr_assert_eq(pit_ticks_between(500, 500), 0);
}

Test(clockcal, rate_from_a_reference_clock)
{
    /* 0.5 ms of PIT (597 ticks at 1.193182 MHz) against 1.3 million TSC ticks. */
    cr_assert_eq(clock_rate(1300000, 597, 1193182), 2598218760ull);
    cr_assert_eq(clock_rate(5, 0, 1193182), 0);
    /* No overflow for large products. */
    cr_assert_eq(clock_rate(1ull << 40, 1ull << 20, 1ull << 32), 1ull << 52);
}

Test(clockcal, rtc_seconds_give_the_rate_and_survive_a_missed_edge)
{
    uint64_t hz = 2596148000ull, estimate = hz + hz / 120; /* ~0.8% off, as the PIT reads */
    cr_assert_eq(clock_rate_from_seconds(hz, estimate, 20000), hz);
    cr_assert_eq(clock_rate_from_seconds(2 * hz + 1, estimate, 20000), hz, "two seconds");
    cr_assert_eq(clock_rate_from_seconds(hz + hz / 2, estimate, 20000), 0, "1.5 s: no");
    cr_assert_eq(clock_rate_from_seconds(hz / 4, estimate, 20000), 0, "rounds to 0 s");
    cr_assert_eq(clock_rate_from_seconds(hz + hz / 20, hz, 20000), 0, "5% off the estimate");
    cr_assert_eq(clock_rate_from_seconds(hz, 0, 20000), 0);
}

Test(clockcal, rtc_edges_give_a_rate_once_two_intervals_agree)
{
    uint64_t hz = 2596148000ull, estimate = hz - hz / 200;
    struct rtc_edges e = {0};
    cr_assert_eq(rtc_edges_feed(&e, 1000, estimate, 20000), 0);
    cr_assert_eq(rtc_edges_feed(&e, 1000 + hz + 20000, estimate, 20000), 0, "one interval");
    uint64_t r = rtc_edges_feed(&e, 1000 + 2 * hz, estimate, 20000);
    cr_assert_eq(r, hz, "two intervals, 8 ppm of jitter between them: %lu", (unsigned long)r);
}

Test(clockcal, rtc_edges_wait_out_an_edge_the_host_delayed)
{
    uint64_t hz = 2596148000ull, late = hz / 1000; /* one edge seen 1 ms late */
    struct rtc_edges e = {0};
    uint64_t t[6] = {0, hz, 2 * hz + late, 3 * hz, 4 * hz, 5 * hz};
    cr_assert_eq(rtc_edges_feed(&e, t[0], hz, 20000), 0);
    cr_assert_eq(rtc_edges_feed(&e, t[1], hz, 20000), 0);
    cr_assert_eq(rtc_edges_feed(&e, t[2], hz, 20000), 0, "long after short: no");
    cr_assert_eq(rtc_edges_feed(&e, t[3], hz, 20000), 0, "short after long: no");
    cr_assert_eq(rtc_edges_feed(&e, t[4], hz, 20000), 0, "the late edge is still in view");
    cr_assert_eq(rtc_edges_feed(&e, t[5], hz, 20000), hz, "two clean intervals");
}

Test(clockcal, rtc_edges_span_a_missed_edge)
{
    uint64_t hz = 1000000000ull;
    struct rtc_edges e = {0};
    rtc_edges_feed(&e, 0, hz, 20000);
    rtc_edges_feed(&e, 2 * hz, hz, 20000); /* an edge missed between: two seconds */
    cr_assert_eq(rtc_edges_feed(&e, 3 * hz, hz, 20000), hz);
}
