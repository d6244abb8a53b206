/*
 * test_tcp_recovery.c — fast retransmit and NewReno recovery (RFC 5681 3.2, RFC 6582):
 * the third duplicate ACK, window inflation, partial and full ACKs, one fast retransmit
 * per window, none after a timeout.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_window_support.h"
/* `n` duplicate ACKs of S(1) at t, t + 1 ms, ... */
static void dupacks(struct testbed *tb, struct peer *p, uint32_t ack, int n, uint64_t t)
{
    for (int k = 0; k < n; k++)
        ack_to(tb, p, ack, t + (uint64_t)k * MS);
}

Test(tcp_recovery, fast_retransmit_on_the_third_duplicate_ack_not_the_second)
{
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    struct tcp_conn *c = ten_in_flight(&tb, &p, &base, t1);
    uint64_t t = t1 + 50 * MS;
    dupacks(&tb, &p, S(1), 2, t);
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.fast_retransmits, 0);
    ack_to(&tb, &p, S(1), t + 2 * MS);
    expect_data(&tb, S(1), MSS_TS, t + 2 * MS);
    expect_nothing(&tb);
    /* ssthresh = FlightSize / 2; cwnd = ssthresh + 3 SMSS. */
    expect_cwnd(c, 8 * MSS_TS, 5 * MSS_TS);
    cr_assert_eq(TCP_OF(&tb)->stats.fast_retransmits, 1);
    testbed_free(&tb);
}

Test(tcp_recovery, acks_that_change_the_window_are_not_duplicates)
{
    /* RFC 5681 2, DUPLICATE ACKNOWLEDGMENT (e): the advertised window must equal the
     * last one; three window updates at SND.UNA are no sign of loss. */
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    ten_in_flight(&tb, &p, &base, t1);
    uint64_t t = t1 + 50 * MS;
    for (int k = 1; k <= 3; k++) {
        p.window = (uint16_t)(PEER_WINDOW - k);
        ack_to(&tb, &p, S(1), t + (uint64_t)k * MS);
    }
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.fast_retransmits, 0);
    testbed_free(&tb);
}

Test(tcp_recovery, fast_retransmit_ssthresh_is_at_least_two_segments)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, PEER_WINDOW, 0);
    uint32_t base = p.ack;
    tcp_set_nodelay(c, true);
    uint64_t t1 = T0 + 100 * MS;
    app_send(&tb, c, 0, 3 * MSS_TS + 100, t1);
    for (uint32_t k = 1; k <= 3; k++)
        expect_data(&tb, S(k), MSS_TS, t1);
    expect_data(&tb, S(4), 100, t1);
    /* S(1) is lost; the other three each bring a duplicate ACK. */
    dupacks(&tb, &p, S(1), 3, t1 + 50 * MS);
    expect_data(&tb, S(1), MSS_TS, t1 + 52 * MS);
    /* RFC 5681 (4): ssthresh = max(FlightSize / 2, 2 SMSS), FlightSize / 2 being 1.5. */
    expect_cwnd(c, 5 * MSS_TS, 2 * MSS_TS);
    testbed_free(&tb);
}

Test(tcp_recovery, recovery_inflates_the_window_by_one_mss_per_further_dupack)
{
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    struct tcp_conn *c = ten_in_flight(&tb, &p, &base, t1);
    uint64_t t = t1 + 50 * MS;
    dupacks(&tb, &p, S(1), 3, t);
    expect_data(&tb, S(1), MSS_TS, t + 2 * MS);
    /* cwnd 8, 9, 10 MSS with ten in flight: nothing new. */
    dupacks(&tb, &p, S(1), 2, t + 3 * MS);
    expect_nothing(&tb);
    expect_cwnd(c, 10 * MSS_TS, 5 * MSS_TS);
    /* 11 MSS: one new segment, 12: another. */
    ack_to(&tb, &p, S(1), t + 5 * MS);
    expect_data(&tb, S(11), MSS_TS, t + 5 * MS);
    expect_nothing(&tb);
    ack_to(&tb, &p, S(1), t + 6 * MS);
    expect_data(&tb, S(12), MSS_TS, t + 6 * MS);
    expect_nothing(&tb);
    expect_cwnd(c, 12 * MSS_TS, 5 * MSS_TS);
    testbed_free(&tb);
}

Test(tcp_recovery, partial_ack_retransmits_the_next_hole)
{
    /* S(1), S(4) and S(7) are lost; the peer has the rest. */
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    struct tcp_conn *c = ten_in_flight(&tb, &p, &base, t1);
    uint64_t t = t1 + 50 * MS;
    dupacks(&tb, &p, S(1), 7, t); /* for S(2), S(3), S(5), S(6), S(8), S(9), S(10) */
    expect_data(&tb, S(1), MSS_TS, t + 2 * MS);
    expect_data(&tb, S(11), MSS_TS, t + 5 * MS);
    expect_data(&tb, S(12), MSS_TS, t + 6 * MS);
    expect_nothing(&tb);
    expect_cwnd(c, 12 * MSS_TS, 5 * MSS_TS);

    /* S(1) arrives: ACK of S(4), below recover. RFC 6582 3.2 step 5: retransmit S(4) at
     * once, deflate cwnd by the 3 MSS acked and add one back: 12 - 3 + 1 = 10 MSS. */
    ack_to(&tb, &p, S(4), t + 60 * MS);
    expect_data(&tb, S(4), MSS_TS, t + 60 * MS);
    expect_cwnd(c, 10 * MSS_TS, 5 * MSS_TS);
    expect_data(&tb, S(13), MSS_TS, t + 60 * MS); /* 9 in flight: one new */
    expect_nothing(&tb);
    /* S(4) arrives: ACK of S(7), the next hole: S(7) again; 10 - 3 + 1 = 8 MSS. */
    ack_to(&tb, &p, S(7), t + 70 * MS);
    expect_data(&tb, S(7), MSS_TS, t + 70 * MS);
    expect_cwnd(c, 8 * MSS_TS, 5 * MSS_TS);
    expect_data(&tb, S(14), MSS_TS, t + 70 * MS);
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.fast_retransmits, 1, "one recovery, not three");
    /* S(7) arrives: the peer has S(13): a full ACK. Flight is S(14): cwnd = min(5 MSS,
     * 1 + 1 MSS). */
    ack_to(&tb, &p, S(14), t + 80 * MS);
    expect_cwnd(c, 2 * MSS_TS, 5 * MSS_TS);
    expect_data(&tb, S(15), MSS_TS, t + 80 * MS);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_recovery, full_ack_leaves_recovery_with_cwnd_min_of_ssthresh_and_flight_plus_mss)
{
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    struct tcp_conn *c = ten_in_flight(&tb, &p, &base, t1);
    uint64_t t = t1 + 50 * MS;
    dupacks(&tb, &p, S(1), 8, t);
    expect_data(&tb, S(1), MSS_TS, t + 2 * MS);
    expect_data(&tb, S(11), MSS_TS, t + 5 * MS);
    expect_data(&tb, S(12), MSS_TS, t + 6 * MS);
    expect_data(&tb, S(13), MSS_TS, t + 7 * MS);
    expect_nothing(&tb);
    /* Everything up to recover (S(11)) is acknowledged: RFC 6582 3.2 step 3 option 1,
     * cwnd = min(ssthresh, FlightSize + SMSS) = min(5, 3 + 1) MSS. */
    ack_to(&tb, &p, S(11), t + 60 * MS);
    expect_cwnd(c, 4 * MSS_TS, 5 * MSS_TS);
    expect_data(&tb, S(14), MSS_TS, t + 60 * MS); /* 3 in flight, 4 allowed */
    expect_nothing(&tb);
    /* Out of recovery: the next ACK grows cwnd as slow start does (4 < ssthresh). */
    ack_to(&tb, &p, S(12), t + 70 * MS);
    expect_cwnd(c, 5 * MSS_TS, 5 * MSS_TS);
    testbed_free(&tb);
}

Test(tcp_recovery, no_second_fast_retransmit_for_the_same_window)
{
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    ten_in_flight(&tb, &p, &base, t1);
    uint64_t t = t1 + 50 * MS;
    dupacks(&tb, &p, S(1), 3, t);
    expect_data(&tb, S(1), MSS_TS, t + 2 * MS);
    /* Many more duplicates (the peer got S(2)..S(10) and then the new ones): only new
     * data goes, S(1) is not sent again. */
    dupacks(&tb, &p, S(1), 12, t + 3 * MS);
    uint32_t next = 11;
    while (fake_link_pending(&tb.link)) {
        struct seg s = expect_seg(&tb);
        cr_assert_eq(s.r.seq, S(next), "in recovery only new data may go, got seq %+d MSS",
                     (int32_t)(s.r.seq - base) / MSS_TS);
        next++;
    }
    cr_assert_eq(TCP_OF(&tb)->stats.fast_retransmits, 1);
    /* Recovery ends at recover = S(11); three duplicates of exactly that ACK do not start
     * another (RFC 6582 3.2 step 1: the ACK must cover more than recover). */
    ack_to(&tb, &p, S(11), t + 100 * MS);
    skip_frames(&tb);
    dupacks(&tb, &p, S(11), 3, t + 101 * MS);
    for (; fake_link_pending(&tb.link);)
        cr_assert_geq((int32_t)(expect_seg(&tb).r.seq - S(next)), 0, "no retransmission");
    cr_assert_eq(TCP_OF(&tb)->stats.fast_retransmits, 1);
    testbed_free(&tb);
}

Test(tcp_recovery, duplicate_acks_after_a_timeout_do_not_fast_retransmit)
{
    /* RFC 6582 3.2 step 1 and 4: after a timeout, recover = the highest sequence sent;
     * duplicate ACKs that do not cover it must not start fast retransmit. */
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    struct tcp_conn *c = ten_in_flight(&tb, &p, &base, t1);
    quiet_until(&tb, t1 + 200 * MS);
    expect_data(&tb, S(1), MSS_TS, t1 + 200 * MS);
    ack_to(&tb, &p, S(2), t1 + 250 * MS);
    expect_data(&tb, S(2), MSS_TS, t1 + 250 * MS);
    expect_data(&tb, S(3), MSS_TS, t1 + 250 * MS);
    dupacks(&tb, &p, S(2), 3, t1 + 260 * MS);
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.fast_retransmits, 0);
    expect_cwnd(c, 2 * MSS_TS, 5 * MSS_TS);
    testbed_free(&tb);
}

/* ---- Nagle (RFC 896, RFC 1122 4.2.3.4) --------------------------------------------- */
