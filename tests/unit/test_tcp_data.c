/*
 * test_tcp_data.c — TCP's data path, receiving side first: in-order delivery, delayed
 * ACKs (RFC 5681 4.2), the bounded out-of-order queue with SACK blocks (RFC 2018),
 * overlapping retransmissions (the first copy of a byte wins), trimming to the window
 * (RFC 9293 3.10.7.4), sequence numbers that wrap (RFC 9293 3.4) in both directions,
 * timestamps and PAWS (RFC 7323), and the application's side of back-pressure.
 *
 * The peer (tcp_support.h) builds its segments with harness/frames.h; the stream it sends
 * is pat(offset), so every delivered byte is checked against where it belongs.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_support.h"

#define MSS_TS (PEER_MSS - 12) /* payload per segment when timestamps are on */
#define DELACK (40 * MS)

static uint8_t pat(uint32_t off)
{
    return (uint8_t)(off * 13u + (off >> 7) + 0x5au);
}

static void fill(uint8_t *buf, uint32_t off, size_t n)
{
    for (size_t k = 0; k < n; k++)
        buf[k] = pat(off + (uint32_t)k);
}

/* `n` received bytes equal the stream from offset `off`. */
static void check_stream(const uint8_t *buf, uint32_t off, size_t n)
{
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(buf[k], pat(off + (uint32_t)k), "byte %zu of the stream is 0x%02x, not 0x%02x",
                     off + k, buf[k], pat(off + (uint32_t)k));
}

/* Node with an rx ring of `rx` bytes (0: the default), a connection opened by the peer
 * with `opts`. */
static struct tcp_conn *setup(struct testbed *tb, struct peer *p, uint8_t opts, uint32_t rx)
{
    struct node_cfg cfg = testbed_default_cfg();
    if (rx)
        cfg.tcp_rx_size = rx;
    tcp_start_cfg(tb, &cfg);
    *p = peer_new(PEER_PORT, OUR_PORT, opts);
    return open_passive(tb, p, T0 + 10 * MS);
}

/* The peer sends stream bytes [off, off + n) at `at`, seq = base + off. */
static void peer_data(struct testbed *tb, struct peer *p, uint32_t base, uint32_t off, size_t n,
                      uint64_t at)
{
    uint8_t buf[2048];
    cr_assert_leq(n, sizeof(buf));
    fill(buf, off, n);
    peer_send_seg(tb, p, base + off, p->ack, TCP_ACK, p->window, buf, n, at);
}

/* The same, with every byte `b`. */
static void peer_bytes(struct testbed *tb, struct peer *p, uint32_t seq, uint8_t b, size_t n,
                       uint64_t at)
{
    uint8_t buf[2048];
    memset(buf, b, n);
    peer_send_seg(tb, p, seq, p->ack, TCP_ACK, p->window, buf, n, at);
}

/* The next segment is a pure ACK of `ack` that left at `at`. */
static struct seg expect_ack(struct testbed *tb, uint32_t ack, uint64_t at)
{
    struct seg s = expect_flags(tb, TCP_ACK);
    cr_assert_eq(s.r.ack, ack, "ACK of %u, expected %u", s.r.ack, ack);
    cr_assert_eq(s.len, 0, "an ACK with %zu data bytes", s.len);
    cr_assert_eq(s.at, at, "ACK at T0+%llu us, expected T0+%llu us",
                 (unsigned long long)((s.at - T0) / 1000), (unsigned long long)((at - T0) / 1000));
    return s;
}

/* Exactly these SACK blocks, in this order (messages count from `base`). */
static void expect_sack(const struct seg *s, uint32_t base, const uint32_t *edges, size_t n)
{
    cr_assert_eq(s->r.n_sack, n, "%u SACK blocks, expected %zu", s->r.n_sack, n);
    for (size_t k = 0; k < n; k++)
        cr_assert(s->r.sack[k].left == edges[2 * k] && s->r.sack[k].right == edges[2 * k + 1],
                  "SACK block %zu is [base+%d, base+%d), expected [base+%d, base+%d)", k,
                  (int32_t)(s->r.sack[k].left - base), (int32_t)(s->r.sack[k].right - base),
                  (int32_t)(edges[2 * k] - base), (int32_t)(edges[2 * k + 1] - base));
}

static bool has_block(const struct seg *s, uint32_t left, uint32_t right)
{
    for (size_t k = 0; k < s->r.n_sack; k++)
        if (s->r.sack[k].left == left && s->r.sack[k].right == right)
            return true;
    return false;
}

static void quiet_until(struct testbed *tb, uint64_t at)
{
    tb_advance(tb, at - 1);
    expect_nothing(tb);
    tb_advance(tb, at);
}

/* ---- In order and delayed ACKs (RFC 5681 4.2, RFC 1122 4.2.3.2) ----------------- */

Test(tcp_data, in_order_data_is_delivered_and_acked_after_the_delack_time)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    uint32_t tsval = p.ts_val;
    peer_data(&tb, &p, base, 0, 1000, t);
    const struct tb_tcp_event *e = last_event(&tb, c, TCP_EV_READABLE);
    cr_assert(e && e->at == t, "TCP_EV_READABLE when the data arrives");
    cr_assert_eq(conn_info(c).unread, 1000);
    quiet_until(&tb, t + DELACK); /* not one nanosecond before the delayed-ACK time */
    struct seg a = expect_ack(&tb, base + 1000, t + DELACK);
    cr_assert_eq(a.r.window, TB_TCP_RING - 1000, "the right edge stays where it was");
    cr_assert_eq(a.r.ts_ecr, tsval);
    uint8_t buf[2000];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 1000);
    check_stream(buf, 0, 1000);
    cr_assert_eq(conn_info(c).bytes_in, 1000);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_data, a_second_full_segment_is_acked_at_once)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    peer_data(&tb, &p, base, 0, MSS_TS, t);
    expect_nothing(&tb);
    peer_data(&tb, &p, base, MSS_TS, MSS_TS, t + 5 * MS);
    expect_ack(&tb, base + 2 * MSS_TS, t + 5 * MS);
    /* And the delayed-ACK timer that the first armed does not fire again. */
    tb_advance(&tb, t + 200 * MS);
    expect_nothing(&tb);
    cr_assert_eq(conn_info(c).unread, 2 * MSS_TS);
    testbed_free(&tb);
}

Test(tcp_data, a_delayed_ack_rides_on_reply_data)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    peer_data(&tb, &p, base, 0, 100, t);
    expect_nothing(&tb);
    tb_advance(&tb, t + 10 * MS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, "reply", 5, t + 10 * MS), 5);
    struct seg d = expect_seg(&tb);
    cr_assert_eq(d.len, 5);
    cr_assert(d.r.flags & TCP_ACK);
    cr_assert_eq(d.r.ack, base + 100, "the reply carries the ACK");
    cr_assert_eq(d.at, t + 10 * MS);
    tb_advance(&tb, t + 200 * MS);
    expect_nothing(&tb); /* no separate ACK at t + 40 ms */
    testbed_free(&tb);
}

/* ---- Out of order (RFC 5681 4.2, RFC 2018) --------------------------------------- */

Test(tcp_data, out_of_order_data_is_held_acked_at_once_and_delivered_when_the_hole_fills)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    peer_data(&tb, &p, base, 1000, 1000, t);
    struct seg a = expect_ack(&tb, base, t);
    uint32_t blk[] = {base + 1000, base + 2000};
    expect_sack(&a, base, blk, 1);
    cr_assert_eq(a.r.window, TB_TCP_RING, "held data must not move the right edge left");
    cr_assert_null(last_event(&tb, c, TCP_EV_READABLE), "nothing readable yet");
    cr_assert_eq(conn_info(c).unread, 0);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_ooo, 1);

    peer_data(&tb, &p, base, 0, 1000, t + 10 * MS);
    struct seg b = expect_ack(&tb, base + 2000, t + 10 * MS); /* the hole filled: at once */
    cr_assert_eq(b.r.n_sack, 0, "nothing held any more");
    cr_assert_not_null(last_event(&tb, c, TCP_EV_READABLE));
    uint8_t buf[4000];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 2000);
    check_stream(buf, 0, 2000);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_data, first_sack_block_holds_the_latest_arrival)
{
    struct testbed tb;
    struct peer p;
    setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    peer_data(&tb, &p, base, 1000, 100, t);
    struct seg a = expect_ack(&tb, base, t);
    uint32_t b1[] = {base + 1000, base + 1100};
    expect_sack(&a, base, b1, 1);

    peer_data(&tb, &p, base, 3000, 100, t + 1 * MS);
    a = expect_ack(&tb, base, t + 1 * MS);
    uint32_t b2[] = {base + 3000, base + 3100, base + 1000, base + 1100};
    expect_sack(&a, base, b2, 2);

    peer_data(&tb, &p, base, 2000, 100, t + 2 * MS);
    a = expect_ack(&tb, base, t + 2 * MS);
    cr_assert_eq(a.r.n_sack, 3);
    cr_assert(a.r.sack[0].left == base + 2000 && a.r.sack[0].right == base + 2100,
              "first block must be the latest arrival");
    cr_assert(has_block(&a, base + 1000, base + 1100) && has_block(&a, base + 3000, base + 3100));

    /* A segment that extends a held range: the first block is the whole range. */
    peer_data(&tb, &p, base, 2100, 100, t + 3 * MS);
    a = expect_ack(&tb, base, t + 3 * MS);
    cr_assert_eq(a.r.n_sack, 3);
    cr_assert(a.r.sack[0].left == base + 2000 && a.r.sack[0].right == base + 2200,
              "first block [%u, %u), expected the merged [%u, %u)", a.r.sack[0].left,
              a.r.sack[0].right, base + 2000, base + 2200);
    testbed_free(&tb);
}

Test(tcp_data, sack_blocks_after_the_first_repeat_the_most_recent_ones)
{
    /* RFC 2018 4: the first block holds the latest arrival; the others SHOULD repeat the
     * most recently reported blocks. Five ranges, room for four (no timestamps). */
    struct testbed tb;
    struct peer p;
    setup(&tb, &p, PO_MSS | PO_WS | PO_SACK, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    for (uint32_t k = 1; k <= 5; k++) {
        peer_data(&tb, &p, base, 1000 * k, 100, t + k * MS);
        expect_ack(&tb, base, t + k * MS);
    }
    peer_data(&tb, &p, base, 6000, 100, t + 10 * MS);
    struct seg a = expect_ack(&tb, base, t + 10 * MS);
    uint32_t want[] = {base + 6000, base + 6100, base + 5000, base + 5100,
                       base + 4000, base + 4100, base + 3000, base + 3100};
    expect_sack(&a, base, want, 4);
    testbed_free(&tb);
}

Test(tcp_data, no_sack_blocks_unless_the_peer_permitted_them)
{
    struct testbed tb;
    struct peer p;
    setup(&tb, &p, PO_MSS | PO_WS | PO_TS, 0);
    uint32_t base = p.seq;
    peer_data(&tb, &p, base, 1000, 500, T0 + 100 * MS);
    struct seg a = expect_ack(&tb, base, T0 + 100 * MS); /* still acked at once */
    cr_assert_eq(a.r.n_sack, 0, "RFC 2018: SACK only when SACK-permitted was received");
    cr_assert_eq(a.r.hdr_len, TCP_HDR_LEN + 12, "only the timestamp option");
    testbed_free(&tb);
}

Test(tcp_data, ranges_beyond_the_queue_limit_are_dropped_counted_and_never_corrupt)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    /* TCP_OOO_MAX + 1 separate ranges: [100, 200), [300, 400), ... */
    for (uint32_t k = 0; k <= TCP_OOO_MAX; k++) {
        peer_data(&tb, &p, base, 200 * k + 100, 100, t + k * MS);
        struct seg a = expect_ack(&tb, base, t + k * MS);
        cr_assert_leq(a.r.n_sack, 3);
        if (k == TCP_OOO_MAX)
            cr_assert_not(has_block(&a, base + 200 * k + 100, base + 200 * k + 200),
                          "a dropped range must not be SACKed");
    }
    cr_assert_eq(TCP_OF(&tb)->stats.rx_ooo, TCP_OOO_MAX);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_ooo_dropped, 1);

    /* A segment joining two held ranges needs no new one: kept. Then the dropped range
     * fits again. */
    peer_data(&tb, &p, base, 200, 100, t + 20 * MS);
    expect_ack(&tb, base, t + 20 * MS);
    uint32_t last = 200 * TCP_OOO_MAX + 100;
    peer_data(&tb, &p, base, last, 100, t + 21 * MS);
    struct seg a = expect_ack(&tb, base, t + 21 * MS);
    cr_assert(has_block(&a, base + last, base + last + 100));
    cr_assert_eq(TCP_OF(&tb)->stats.rx_ooo_dropped, 1);

    /* The holes fill: the stream is exactly what was sent. */
    peer_data(&tb, &p, base, 0, MSS_TS, t + 30 * MS);
    expect_ack(&tb, base + MSS_TS, t + 30 * MS);
    peer_data(&tb, &p, base, MSS_TS, last + 100 - MSS_TS, t + 31 * MS);
    expect_ack(&tb, base + last + 100, t + 31 * MS);
    uint8_t buf[4000];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), last + 100);
    check_stream(buf, 0, last + 100);
    testbed_free(&tb);
}

/* ---- Overlaps: the first copy of a byte wins --------------------------------------- */

Test(tcp_data, in_order_overlap_keeps_the_bytes_received_first)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    peer_bytes(&tb, &p, base, 'A', 100, t);
    peer_bytes(&tb, &p, base + 50, 'B', 100, t + 1 * MS);
    expect_ack(&tb, base + 150, t + 1 * MS); /* partly a duplicate: ACK at once */
    uint8_t buf[300];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 150);
    for (size_t k = 0; k < 150; k++)
        cr_assert_eq(buf[k], k < 100 ? 'A' : 'B', "byte %zu is '%c'", k, buf[k]);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_dup_bytes, 50);
    testbed_free(&tb);
}

Test(tcp_data, out_of_order_overlap_keeps_the_bytes_received_first)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    peer_bytes(&tb, &p, base + 100, 'X', 100, t); /* held [100, 200) */
    expect_ack(&tb, base, t);
    peer_bytes(&tb, &p, base + 50, 'Y', 200, t + 1 * MS); /* over it: [50, 250) */
    struct seg a = expect_ack(&tb, base, t + 1 * MS);
    uint32_t blk[] = {base + 50, base + 250};
    expect_sack(&a, base, blk, 1);
    peer_bytes(&tb, &p, base, 'Z', 100, t + 2 * MS); /* in order, over [50, 100) */
    expect_ack(&tb, base + 250, t + 2 * MS);
    uint8_t buf[300];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 250);
    for (size_t k = 0; k < 250; k++) {
        char want = k < 50 ? 'Z' : k < 100 ? 'Y' : k < 200 ? 'X' : 'Y';
        cr_assert_eq(buf[k], want, "byte %zu is '%c', the first copy was '%c'", k, buf[k], want);
    }
    cr_assert_eq(TCP_OF(&tb)->stats.rx_dup_bytes, 150);
    testbed_free(&tb);
}

/* ---- The window's edge (RFC 9293 3.10.7.4) ---------------------------------------- */

Test(tcp_data, data_beyond_the_window_is_trimmed_and_acked)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 4096);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    peer_data(&tb, &p, base, 0, MSS_TS, t);
    peer_data(&tb, &p, base, MSS_TS, MSS_TS, t + 1 * MS);
    struct seg a = expect_ack(&tb, base + 2 * MSS_TS, t + 1 * MS);
    cr_assert_eq(a.r.window, 4096 - 2 * MSS_TS);
    /* 1448 bytes into a 1200-byte window: 1200 taken, the ACK says where it ends. */
    peer_data(&tb, &p, base, 2 * MSS_TS, MSS_TS, t + 2 * MS);
    a = expect_ack(&tb, base + 4096, t + 2 * MS);
    cr_assert_eq(a.r.window, 0);
    /* A one-byte probe into the closed window: ACKed, the byte not taken. */
    peer_data(&tb, &p, base, 4096, 1, t + 2500 * 1000);
    a = expect_ack(&tb, base + 4096, t + 2500 * 1000);
    cr_assert_eq(a.r.window, 0);
    /* Wholly beyond the window: not acceptable, answered with an ACK. */
    peer_data(&tb, &p, base, 4200, 100, t + 3 * MS);
    a = expect_ack(&tb, base + 4096, t + 3 * MS);
    cr_assert_eq(a.r.window, 0);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_unacceptable, 1);
    cr_assert_eq(conn_info(c).unread, 4096);

    static uint8_t buf[8192];
    tb_advance(&tb, t + 10 * MS);
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 4096);
    check_stream(buf, 0, 4096);
    a = expect_ack(&tb, base + 4096, t + 10 * MS); /* window update */
    cr_assert_eq(a.r.window, 4096);
    /* The trimmed bytes come again and are taken. */
    peer_data(&tb, &p, base, 4096, 3 * MSS_TS - 4096, t + 20 * MS);
    tb_advance(&tb, t + 100 * MS);
    size_t n = recv_all(&tb, c, buf, sizeof(buf));
    cr_assert_eq(n, 3 * MSS_TS - 4096);
    check_stream(buf, 4096, n);
    testbed_free(&tb);
}

/* ---- Sequence numbers wrap (RFC 9293 3.4) ----------------------------------------- */

Test(tcp_data, a_retransmission_overlapping_what_we_have_is_acked_at_once)
{
    /* RFC 5681 4.2: bytes we hold again mean the peer missed our ACK; the next one
     * goes at once, not after the delayed-ACK time. */
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    peer_data(&tb, &p, base, 0, 100, t);
    tb_advance(&tb, t + DELACK);
    /* This ACK is lost on its way: the peer sends the 100 bytes again, and 100 new. */
    expect_ack(&tb, base + 100, t + DELACK);
    peer_data(&tb, &p, base, 0, 200, t + 300 * MS);
    expect_ack(&tb, base + 200, t + 300 * MS);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_dup_bytes, 100);
    static uint8_t buf[256];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 200);
    check_stream(buf, 0, 200);
    testbed_free(&tb);
}

Test(tcp_data, a_window_rounded_up_by_the_scale_never_overfills_the_ring)
{
    /* With shift 2 a free space of 199998 bytes is announced as 50000 units, 2 bytes
     * more than the ring holds: a peer filling that window has its last 2 bytes
     * trimmed, and the unread bytes at the head of the ring stay intact. */
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 200000);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    peer_data(&tb, &p, base, 0, 2, t);
    tb_advance(&tb, t + DELACK);
    struct seg a = expect_ack(&tb, base + 2, t + DELACK);
    cr_assert_eq(a.r.window, 50000);
    uint32_t edge = 2 + 4 * 50000;
    for (uint32_t off = 2; off < edge; off += MSS_TS) {
        size_t n = edge - off < MSS_TS ? edge - off : MSS_TS;
        peer_data(&tb, &p, base, off, n, t + 100 * MS);
    }
    cr_assert_eq(conn_info(c).unread, 200000, "unread %u in a ring of 200000", conn_info(c).unread);
    static uint8_t buf[200004];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 200000);
    check_stream(buf, 0, 200000);
    testbed_free(&tb);
}

Test(tcp_data, receiving_across_the_sequence_number_wrap)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    p.seq = 0xfffff800u; /* the peer's ISN: its stream crosses 2^32 after 2047 bytes */
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    /* Second segment first: it straddles 0, and so does its SACK block. */
    peer_data(&tb, &p, base, MSS_TS, MSS_TS, t);
    struct seg a = expect_ack(&tb, base, t);
    uint32_t b1[] = {base + MSS_TS, base + 2 * MSS_TS};
    cr_assert_gt(base + MSS_TS, base + 2 * MSS_TS, "the block must straddle the wrap");
    expect_sack(&a, base, b1, 1);
    peer_data(&tb, &p, base, 2 * MSS_TS, 1000, t + 1 * MS);
    a = expect_ack(&tb, base, t + 1 * MS);
    uint32_t b2[] = {base + MSS_TS, base + 2 * MSS_TS + 1000};
    expect_sack(&a, base, b2, 1);
    peer_data(&tb, &p, base, 0, MSS_TS, t + 2 * MS);
    a = expect_ack(&tb, base + 2 * MSS_TS + 1000, t + 2 * MS);
    cr_assert_lt(a.r.ack, 0x1000u, "acknowledgment wrapped to %u", a.r.ack);
    /* In order past the wrap. */
    peer_data(&tb, &p, base, 2 * MSS_TS + 1000, 500, t + 3 * MS);
    uint8_t buf[8192];
    tb_advance(&tb, t + 10 * MS);
    size_t n = recv_all(&tb, c, buf, sizeof(buf));
    cr_assert_eq(n, 2 * MSS_TS + 1500);
    check_stream(buf, 0, n);
    testbed_free(&tb);
}

Test(tcp_data, sending_across_the_sequence_number_wrap)
{
    /* Our ISN is RFC 6528's 4 us clock plus a keyed hash of the 4-tuple: learn it once,
     * then connect again at the moment that puts it just below 2^32. */
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 50000, PO_ALL);
    uint64_t t = T0 + 10 * MS;
    int err;
    tb_advance(&tb, t);
    struct tcp_conn *c = tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 50000, NULL, t, &err);
    cr_assert_not_null(c);
    uint32_t isn0 = expect_flags(&tb, TCP_SYN).r.seq;
    tcp_abort(TCP_OF(&tb), c, t);
    expect_nothing(&tb);
    const uint32_t want = 0xfffff000u;
    uint64_t at = t + (uint64_t)(uint32_t)(want - isn0) * 4000;
    tb_advance(&tb, at);
    skip_frames(&tb);
    learn_peer(&tb, at);
    c = open_active(&tb, &p, at);
    cr_assert_eq(p.ack, want + 1, "ISS %u, expected %u", p.ack - 1, want);
    uint32_t base = p.ack; /* the stream crosses 2^32 at offset 4095 */

    static uint8_t data[6000];
    fill(data, 0, sizeof(data));
    uint64_t t1 = at + 10 * MS;
    tb_advance(&tb, t1);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, data, sizeof(data), t1), (int)sizeof(data));
    struct seg s[4];
    for (int k = 0; k < 4; k++) {
        s[k] = expect_seg(&tb);
        cr_assert_eq(s[k].r.seq, base + (uint32_t)k * MSS_TS);
        cr_assert_eq(s[k].len, MSS_TS);
        check_stream(s[k].data, (uint32_t)k * MSS_TS, MSS_TS);
    }
    expect_nothing(&tb); /* Nagle holds the 208-byte tail */
    /* Segment 3 (over the wrap) is lost: ACK 1 and 2, then three duplicates. */
    peer_saw(&p, &s[1]);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t1 + 50 * MS);
    for (int k = 0; k < 3; k++)
        peer_send(&tb, &p, TCP_ACK, NULL, 0, t1 + (51 + (uint64_t)k) * MS);
    struct seg r = expect_seg(&tb);
    cr_assert_eq(r.r.seq, base + 2 * MSS_TS, "fast retransmit of the segment over the wrap");
    cr_assert_eq(r.len, MSS_TS);
    check_stream(r.data, 2 * MSS_TS, MSS_TS);
    expect_nothing(&tb);
    /* All four acknowledged (the ack number has wrapped): the tail goes. */
    peer_saw(&p, &s[3]);
    cr_assert_lt(p.ack, 0x1000u);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t1 + 60 * MS);
    struct seg tail = expect_seg(&tb);
    cr_assert_eq(tail.r.seq, base + 4 * MSS_TS);
    cr_assert_eq(tail.len, 6000 - 4 * MSS_TS);
    check_stream(tail.data, 4 * MSS_TS, tail.len);
    peer_saw(&p, &tail);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t1 + 70 * MS);
    struct tcp_conn_info i = conn_info(c);
    cr_assert_eq(i.in_flight, 0);
    cr_assert_eq(i.unsent, 0);
    cr_assert_eq(i.bytes_out, 6000);
    tb_advance(&tb, t1 + 60 * SEC);
    skip_frames(&tb); /* ARP refreshes only */
    cr_assert_eq(conn_info(c).retransmits, 1, "nothing retransmitted after the last ACK");
    testbed_free(&tb);
}

/* ---- Timestamps (RFC 7323) --------------------------------------------------------- */

Test(tcp_data, tsval_advances_and_tsecr_echoes_ts_recent)
{
    struct testbed tb;
    struct peer p;
    setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    p.ts_val = 70000;
    peer_data(&tb, &p, base, 0, 100, t);
    tb_advance(&tb, t + DELACK);
    struct seg a = expect_ack(&tb, base + 100, t + DELACK);
    cr_assert(a.r.has_ts);
    cr_assert_eq(a.r.ts_ecr, 70000);

    p.ts_val = 71000;
    peer_data(&tb, &p, base, 100, 100, t + 1 * SEC);
    tb_advance(&tb, t + 1 * SEC + DELACK);
    struct seg b = expect_ack(&tb, base + 200, t + 1 * SEC + DELACK);
    cr_assert_eq(b.r.ts_ecr, 71000);
    cr_assert_gt(b.r.ts_val - a.r.ts_val, 0, "TSval must advance with time");
    cr_assert_leq(b.r.ts_val - a.r.ts_val, 1000, "a TSval tick is at least 1 ms");
    testbed_free(&tb);
}

Test(tcp_data, tsecr_echoes_the_segment_that_advanced_the_window)
{
    /* RFC 7323 4.3: TS.Recent takes a TSval only from a segment at or before
     * Last.ACK.sent: a delayed ACK echoes the earliest unacknowledged segment, an ACK for
     * out-of-order data echoes the last segment that advanced the window, and the one
     * that fills the hole is echoed. */
    struct testbed tb;
    struct peer p;
    setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    p.ts_val = 10100;
    peer_data(&tb, &p, base, 0, 100, t);            /* TSval 10100 */
    peer_data(&tb, &p, base, 100, 100, t + 5 * MS); /* TSval 10101 */
    struct seg a = expect_ack(&tb, base + 200, t + 5 * MS);
    cr_assert_eq(a.r.ts_ecr, 10100, "the ACK covering two segments echoes the earlier one");

    p.ts_val = 10200;
    peer_data(&tb, &p, base, 300, 100, t + 10 * MS); /* TSval 10200, out of order */
    a = expect_ack(&tb, base + 200, t + 10 * MS);
    cr_assert_eq(a.r.ts_ecr, 10100, "an out-of-order segment must not set TS.Recent");
    p.ts_val = 10190;
    peer_data(&tb, &p, base, 200, 100, t + 11 * MS); /* TSval 10190: fills the hole (PAWS drops it
                                                      * if 10200 became TS.Recent) */
    a = expect_ack(&tb, base + 400, t + 11 * MS);
    cr_assert_eq(a.r.ts_ecr, 10190, "the segment that filled the hole is echoed");
    testbed_free(&tb);
}

Test(tcp_data, paws_drops_an_old_timestamp_and_acks_it)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    p.ts_val = 50000;
    peer_data(&tb, &p, base, 0, 100, t);
    tb_advance(&tb, t + DELACK);
    expect_ack(&tb, base + 100, t + DELACK);

    /* New bytes, but a TSval older than TS.Recent: an old duplicate (RFC 7323 5.3). */
    uint8_t o[12], buf[200];
    fr_tcp_opt_ts(o, 49990, p.ts_ecr);
    fill(buf, 100, 100);
    peer_send_raw(&tb, &p, base + 100, p.ack, TCP_ACK, p.window, o, sizeof(o), buf, 100,
                  t + 50 * MS);
    struct seg a = expect_ack(&tb, base + 100, t + 50 * MS);
    cr_assert_eq(a.r.ts_ecr, 50000, "TS.Recent unchanged");
    cr_assert_eq(TCP_OF(&tb)->stats.rx_paws, 1);
    cr_assert_eq(conn_info(c).unread, 100, "the old segment's data must not be taken");

    /* The same bytes with a current TSval are taken. */
    p.ts_val = 50001;
    peer_data(&tb, &p, base, 100, 100, t + 60 * MS);
    cr_assert_eq(conn_info(c).unread, 200);
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 200);
    check_stream(buf, 0, 200);
    testbed_free(&tb);
}

Test(tcp_data, paws_compares_timestamps_modulo_2_32)
{
    /* RFC 7323 5.3: TSvals are compared as sequence numbers; a peer clock that wraps
     * still moves forward. */
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    p.ts_val = 0xfffffff0u;
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    p.ts_val = 0x10; /* past the wrap: newer */
    peer_data(&tb, &p, base, 0, 100, t);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_paws, 0, "a wrapped TSval is not old");
    cr_assert_eq(conn_info(c).unread, 100);
    tb_advance(&tb, t + DELACK);
    struct seg a = expect_ack(&tb, base + 100, t + DELACK);
    cr_assert_eq(a.r.ts_ecr, 0x10);
    p.ts_val = 0xfffffff8u; /* before the wrap: old */
    peer_data(&tb, &p, base, 100, 100, t + 50 * MS);
    expect_ack(&tb, base + 100, t + 50 * MS);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_paws, 1);
    cr_assert_eq(conn_info(c).unread, 100);
    testbed_free(&tb);
}

Test(tcp_data, after_24_idle_days_an_old_timestamp_is_taken_and_renews_ts_recent)
{
    /* RFC 7323 5.5: idle long enough, the peer's TSval clock may have wrapped its sign
     * bit. TS.Recent is then invalid: the segment is accepted and R3 makes its TSval
     * TS.Recent, so PAWS protects the connection again from there. */
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint32_t base = p.seq;
    uint64_t t = T0 + 100 * MS;
    p.ts_val = 50000;
    peer_data(&tb, &p, base, 0, 100, t);
    tb_advance(&tb, t + DELACK);
    expect_ack(&tb, base + 100, t + DELACK);

    uint64_t later = t + 25ull * 24 * 3600 * SEC;
    /* The ARP entry has long expired. */
    learn_peer(&tb, later);
    p.ts_val = 50000 + 0x80000001u; /* 2^31 + 1 ticks on: compares as older */
    peer_data(&tb, &p, base, 100, 100, later);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_paws, 0);
    cr_assert_eq(conn_info(c).unread, 200);
    tb_advance(&tb, later + DELACK);
    struct seg a = expect_ack(&tb, base + 200, later + DELACK);
    cr_assert_eq(a.r.ts_ecr, 50000 + 0x80000001u, "TS.Recent renewed");

    p.ts_val = 50000 + 0x80000001u - 10; /* older than the new TS.Recent: refused */
    peer_data(&tb, &p, base, 200, 100, later + 100 * MS);
    expect_ack(&tb, base + 200, later + 100 * MS);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_paws, 1);
    cr_assert_eq(conn_info(c).unread, 200);
    testbed_free(&tb);
}

/* ---- The application's side: back-pressure and EOF -------------------------------- */

Test(tcp_data, send_takes_what_fits_and_writable_follows_the_ack)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    static uint8_t data[20000];
    fill(data, 0, sizeof(data));
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, data, sizeof(data), t), TB_TCP_RING,
                 "tcp_send takes what fits in the ring");
    cr_assert_eq(conn_info(c).tx_free, 0);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, data, 100, t), 0, "a full ring takes nothing");
    struct seg s[5];
    for (int k = 0; k < 5; k++) {
        s[k] = expect_seg(&tb);
        cr_assert_eq(s[k].len, MSS_TS);
        check_stream(s[k].data, (uint32_t)k * MSS_TS, MSS_TS);
    }
    expect_nothing(&tb); /* the 952-byte tail waits for Nagle */
    cr_assert_null(last_event(&tb, c, TCP_EV_WRITABLE), "no room has freed yet");

    peer_saw(&p, &s[1]);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + 50 * MS);
    const struct tb_tcp_event *e = last_event(&tb, c, TCP_EV_WRITABLE);
    cr_assert(e && e->at == t + 50 * MS, "TCP_EV_WRITABLE once the ACK frees room");
    cr_assert_eq(conn_info(c).tx_free, 2 * MSS_TS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, data + TB_TCP_RING, MSS_TS, t + 51 * MS), MSS_TS);
    /* Nothing was refused since and the ring is not full: the next ACK brings no second
     * event. */
    skip_frames(&tb);
    peer_saw(&p, &s[4]);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + 60 * MS);
    cr_assert_eq(count_events(&tb, c, TCP_EV_WRITABLE), 1);
    testbed_free(&tb);
}

Test(tcp_data, recv_returns_what_is_there_and_reports_eof_after_fin)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, 0);
    uint64_t t = T0 + 100 * MS;
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "hello world", 11, t);
    char buf[64];
    cr_assert_eq(tcp_recv(TCP_OF(&tb), c, buf, 5, t), 5);
    cr_assert(memcmp(buf, "hello", 5) == 0);
    cr_assert_eq(tcp_recv(TCP_OF(&tb), c, buf, sizeof(buf), t), 6);
    cr_assert(memcmp(buf, " world", 6) == 0);
    cr_assert_eq(tcp_recv(TCP_OF(&tb), c, buf, sizeof(buf), t), 0, "nothing more yet");
    cr_assert_not(conn_info(c).peer_closed);

    size_t readable = count_events(&tb, c, TCP_EV_READABLE);
    peer_send(&tb, &p, TCP_ACK | TCP_PSH | TCP_FIN, "!", 1, t + 10 * MS);
    expect_ack(&tb, p.seq, t + 10 * MS); /* a FIN is acked at once */
    cr_assert_eq(count_events(&tb, c, TCP_EV_READABLE), readable + 1);
    cr_assert_not_null(last_event(&tb, c, TCP_EV_PEER_CLOSED), "the FIN is announced");
    cr_assert_not(conn_info(c).peer_closed, "EOF only once the last byte is read");
    cr_assert_eq(tcp_recv(TCP_OF(&tb), c, buf, sizeof(buf), t + 20 * MS), 1);
    cr_assert_eq(buf[0], '!');
    cr_assert(conn_info(c).peer_closed);
    cr_assert_eq(tcp_recv(TCP_OF(&tb), c, buf, sizeof(buf), t + 30 * MS), 0, "EOF");
    expect_state(c, TCP_CLOSE_WAIT);
    testbed_free(&tb);
}
