/*
 * test_tcp_window.c — how much TCP sends and when: congestion control (RFC 5681 slow
 * start, congestion avoidance, the timeout response; RFC 6928 initial window), Nagle
 * (RFC 896, RFC 1122 4.2.3.4), silly-window avoidance on both sides (RFC 9293 3.8.6.2),
 * and a peer whose window shrinks (RFC 9293 3.8.6.2.1, RFC 1122 4.2.2.16). Fast
 * retransmit and recovery are in test_tcp_recovery.c.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_window_support.h"

Test(tcp_window, initial_window_is_ten_segments)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer a = peer_new(PEER_PORT, 50000, PO_ALL);
    struct tcp_conn *ca = open_active(&tb, &a, T0 + 10 * MS);
    cr_assert_eq(conn_info(ca).cwnd, 10 * MSS_TS, "active open: IW = 10 MSS, got %u",
                 conn_info(ca).cwnd);
    struct peer p = peer_new(PEER_PORT + 1, OUR_PORT, PO_ALL);
    struct tcp_conn *cp = open_passive(&tb, &p, T0 + 20 * MS);
    cr_assert_eq(conn_info(cp).cwnd, 10 * MSS_TS,
                 "passive open: IW = min(10 MSS, 14600) = %u, got %u", 10 * MSS_TS,
                 conn_info(cp).cwnd);
    testbed_free(&tb);
}

Test(tcp_window, slow_start_adds_one_mss_per_ack)
{
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    struct tcp_conn *c = ten_in_flight(&tb, &p, &base, t1);
    uint32_t next = 11;
    for (uint32_t k = 1; k <= 10; k++) {
        uint32_t before = conn_info(c).cwnd;
        uint64_t at = t1 + (100 + k) * MS;
        ack_to(&tb, &p, S(k + 1), at);
        cr_assert_eq(conn_info(c).cwnd, before + MSS_TS, "ACK %u: cwnd must grow by one MSS", k);
        /* One segment left the network, the window grew by one: two go out. */
        expect_data(&tb, S(next), MSS_TS, at);
        expect_data(&tb, S(next + 1), MSS_TS, at);
        expect_nothing(&tb);
        next += 2;
    }
    /* An ACK for two segments still adds one MSS only (RFC 5681 3.1, L = 1 SMSS). */
    uint32_t before = conn_info(c).cwnd;
    ack_to(&tb, &p, S(13), t1 + 200 * MS);
    cr_assert_eq(conn_info(c).cwnd, before + MSS_TS);
    for (uint32_t k = 0; k < 3; k++)
        expect_data(&tb, S(next + k), MSS_TS, t1 + 200 * MS);
    expect_nothing(&tb);
    testbed_free(&tb);
}

/* One round trip: the peer takes every segment sent so far, in order, and ACKs each one
 * at `at`; what those ACKs release is the next round. Returns the segments taken. */
static size_t round_trip(struct testbed *tb, struct peer *p, uint64_t at)
{
    static struct seg segs[64];
    size_t n = 0;
    while (fake_link_pending(&tb->link)) {
        cr_assert_lt(n, 64);
        segs[n++] = expect_seg(tb);
    }
    for (size_t k = 0; k < n; k++) {
        cr_assert_eq(segs[k].r.seq, p->ack, "round trip: out of order at %u", segs[k].r.seq);
        peer_saw(p, &segs[k]);
        peer_send(tb, p, TCP_ACK, NULL, 0, at);
    }
    return n;
}

Test(tcp_window, congestion_avoidance_adds_about_one_mss_per_round_trip)
{
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    struct tcp_conn *c = ten_in_flight(&tb, &p, &base, t1);
    /* Everything is lost: the timeout sets ssthresh to 5 MSS and cwnd to 1. */
    quiet_until(&tb, t1 + 200 * MS);
    expect_cwnd(c, MSS_TS, 5 * MSS_TS);
    uint64_t at = t1 + 210 * MS;
    /* Slow start up to ssthresh: doubling per round. */
    round_trip(&tb, &p, at);
    expect_cwnd(c, 2 * MSS_TS, 0);
    round_trip(&tb, &p, at += 10 * MS);
    expect_cwnd(c, 4 * MSS_TS, 0);
    round_trip(&tb, &p, at += 10 * MS);
    cr_assert_geq(conn_info(c).cwnd, 5 * MSS_TS);
    /* From here, one MSS per round at most, and about that. */
    uint32_t start = conn_info(c).cwnd;
    for (int r = 0; r < 8; r++) {
        uint32_t before = conn_info(c).cwnd;
        size_t n = round_trip(&tb, &p, at += 10 * MS);
        uint32_t after = conn_info(c).cwnd;
        cr_assert_geq(n * MSS_TS, before - MSS_TS, "round %d: the window was not used", r);
        cr_assert_leq(after - before, MSS_TS,
                      "round %d: cwnd grew by %u in one round trip (more than one MSS)", r,
                      after - before);
    }
    uint32_t grown = conn_info(c).cwnd - start;
    cr_assert_geq(grown, 7 * MSS_TS, "8 round trips grew cwnd by only %.2f MSS",
                  grown / (double)MSS_TS);
    testbed_free(&tb);
}

Test(tcp_window, cwnd_restarts_after_an_idle_period)
{
    /* RFC 5681 4.1: after sending nothing for more than an RTO, cwnd SHOULD be cut to
     * the restart window min(IW, cwnd) before sending again. */
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, PEER_WINDOW, BIG_TX);
    uint64_t t = T0 + 100 * MS;
    app_send(&tb, c, 0, 30 * MSS_TS, t);
    cr_assert_eq(round_trip(&tb, &p, t + 10 * MS), 10);
    cr_assert_eq(round_trip(&tb, &p, t + 20 * MS), 20);
    expect_nothing(&tb);
    cr_assert_eq(conn_info(c).in_flight, 0);
    cr_assert_geq(conn_info(c).cwnd, 40 * MSS_TS);
    uint64_t later = t + 10 * SEC; /* idle far longer than the RTO */
    app_send(&tb, c, 30 * MSS_TS, 100000, later);
    size_t n = 0;
    while (fake_link_pending(&tb.link)) {
        expect_seg(&tb);
        n++;
    }
    cr_assert_eq(n, 10, "%zu segments sent at once after 10 s idle: the restart window is 10", n);
    testbed_free(&tb);
}

/* ---- The timeout (RFC 5681 3.1, RFC 6298 5.4) -------------------------------------- */

Test(tcp_window, timeout_sets_cwnd_to_one_mss_and_resends_from_snd_una)
{
    struct testbed tb;
    struct peer p;
    uint32_t base;
    uint64_t t1 = T0 + 100 * MS;
    struct tcp_conn *c = ten_in_flight(&tb, &p, &base, t1);
    quiet_until(&tb, t1 + 200 * MS);
    expect_data(&tb, S(1), MSS_TS, t1 + 200 * MS);
    expect_nothing(&tb);
    /* ssthresh = max(FlightSize / 2, 2 SMSS) = 5 MSS; cwnd = LW = 1 SMSS. */
    expect_cwnd(c, MSS_TS, 5 * MSS_TS);
    cr_assert_eq(TCP_OF(&tb)->stats.retransmits, 1);
    /* The peer had nothing: its ACK of S(1) lets S(2) and S(3) go again. */
    ack_to(&tb, &p, S(2), t1 + 250 * MS);
    expect_cwnd(c, 2 * MSS_TS, 0);
    expect_data(&tb, S(2), MSS_TS, t1 + 250 * MS);
    expect_data(&tb, S(3), MSS_TS, t1 + 250 * MS);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_window, timeout_ssthresh_is_at_least_two_segments)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, PEER_WINDOW, 0);
    uint64_t t1 = T0 + 100 * MS;
    app_send(&tb, c, 0, 1000, t1);
    expect_data(&tb, p.ack, 1000, t1);
    quiet_until(&tb, t1 + 200 * MS);
    expect_data(&tb, p.ack, 1000, t1 + 200 * MS);
    expect_cwnd(c, MSS_TS, 2 * MSS_TS); /* FlightSize / 2 = 500 < 2 SMSS */
    testbed_free(&tb);
}

/* ---- Fast retransmit and NewReno (RFC 5681 3.2, RFC 6582) ------------------------- */

Test(tcp_window, nagle_holds_a_small_write_while_data_is_unacknowledged)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, PEER_WINDOW, 0);
    uint32_t base = p.ack;
    uint64_t t = T0 + 100 * MS;
    app_send(&tb, c, 0, 100, t);
    struct seg a = expect_data(&tb, base, 100, t); /* nothing in flight: at once */
    app_send(&tb, c, 100, 50, t + 1 * MS);
    expect_nothing(&tb);
    tb_advance(&tb, t + 29 * MS);
    expect_nothing(&tb);
    peer_saw(&p, &a);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + 30 * MS);
    expect_data(&tb, base + 100, 50, t + 30 * MS); /* the ACK releases it */
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_window, nagle_lets_full_segments_go)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, PEER_WINDOW, 0);
    uint32_t base = p.ack;
    uint64_t t = T0 + 100 * MS;
    app_send(&tb, c, 0, 100, t);
    expect_data(&tb, base, 100, t);
    app_send(&tb, c, 100, 2000, t + 1 * MS);
    struct seg b = expect_data(&tb, base + 100, MSS_TS, t + 1 * MS);
    expect_nothing(&tb); /* the 552-byte tail waits */
    peer_saw(&p, &b);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + 30 * MS);
    expect_data(&tb, base + 100 + MSS_TS, 2000 - MSS_TS, t + 30 * MS);
    testbed_free(&tb);
}

Test(tcp_window, nodelay_sends_small_writes_at_once)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, PEER_WINDOW, 0);
    uint32_t base = p.ack;
    uint64_t t = T0 + 100 * MS;
    tcp_set_nodelay(c, true);
    app_send(&tb, c, 0, 100, t);
    expect_data(&tb, base, 100, t);
    app_send(&tb, c, 100, 50, t + 1 * MS);
    expect_data(&tb, base + 100, 50, t + 1 * MS);
    app_send(&tb, c, 150, 10, t + 2 * MS);
    expect_data(&tb, base + 150, 10, t + 2 * MS);
    /* And back on: the next small write waits again. */
    tcp_set_nodelay(c, false);
    app_send(&tb, c, 160, 10, t + 3 * MS);
    expect_nothing(&tb);
    testbed_free(&tb);
}

/* ---- Sender silly-window avoidance (RFC 9293 3.8.6.2.1) --------------------------- */

Test(tcp_window, send_more_holds_a_short_tail_until_the_write_ends)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, PEER_WINDOW, 0);
    tcp_set_nodelay(c, true); /* the cork holds even with Nagle off */
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    cr_assert_eq(tcp_send_more(TCP_OF(&tb), c, "head", 4, t), 4);
    expect_nothing(&tb);
    tb_advance(&tb, t + 1 * MS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, "body", 4, t + 1 * MS), 4);
    struct seg d = expect_data(&tb, p.ack, 8, t + 1 * MS);
    cr_assert(memcmp(d.data, "headbody", 8) == 0, "head and body share a segment");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_window, sender_sends_no_tiny_segments_into_a_small_window)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, NO_WS, PEER_WINDOW, 0);
    uint64_t t = T0 + 100 * MS;
    p.window = 3000; /* two segments and a sliver */
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t);
    app_send(&tb, c, 0, 8000, t + 1 * MS);
    /* The peer ACKs what it got every 20 ms with the same 3000-byte window: every
     * segment but the last is full-sized. */
    size_t total = 0, segs = 0;
    for (uint64_t now = t + 1 * MS; now < t + 2 * SEC && total < 8000; now += 20 * MS) {
        tb_advance(&tb, now);
        struct seg s;
        bool any = false;
        while (fake_link_pending(&tb.link)) {
            s = expect_seg(&tb);
            cr_assert_eq(s.r.seq, p.ack, "only new data in order");
            total += s.len;
            segs++;
            if (total < 8000)
                cr_assert_eq(s.len, MSS_TS, "segment %zu carries %zu bytes: a silly window", segs,
                             s.len);
            peer_saw(&p, &s);
            any = true;
        }
        if (any)
            peer_send(&tb, &p, TCP_ACK, NULL, 0, now + 10 * MS);
    }
    cr_assert_eq(total, 8000);
    testbed_free(&tb);
}

Test(tcp_window, sender_sends_half_the_largest_window_seen)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, NO_WS, 1200, 0); /* a peer with a tiny buffer */
    uint32_t base = p.ack;
    uint64_t t = T0 + 100 * MS;
    app_send(&tb, c, 0, 5000, t);
    struct seg a = expect_data(&tb, base, 1200, t); /* the whole window */
    expect_nothing(&tb);
    peer_saw(&p, &a);
    p.window = 700; /* >= half of 1200: worth a segment */
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + 20 * MS);
    struct seg b = expect_data(&tb, base + 1200, 700, t + 20 * MS);
    expect_nothing(&tb);
    peer_saw(&p, &b);
    p.window = 500; /* < 600: silly */
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + 40 * MS);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_window, half_the_largest_window_counts_windows_offered_after_the_handshake)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, NO_WS, 1200, BIG_TX);
    uint32_t base = p.ack;
    uint64_t t = T0 + 100 * MS;
    app_send(&tb, c, 0, 20000, t);
    struct seg a = expect_data(&tb, base, 1200, t);
    peer_saw(&p, &a);
    p.window = 8000; /* the peer's buffer grows: the largest window is now 8000 */
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + 20 * MS);
    size_t sent = 0;
    while (fake_link_pending(&tb.link)) {
        struct seg s = expect_seg(&tb);
        sent += s.len;
        peer_saw(&p, &s);
    }
    cr_assert_eq(sent, 5 * MSS_TS, "full segments only into 8000 bytes");
    p.window = 1000; /* below half of 8000: silly, though not of the 1200 first offered */
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + 40 * MS);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_window, a_window_below_mss_is_used_after_the_override_timeout)
{
    /* RFC 9293 3.8.6.2.1 (RFC 1122 4.2.3.4): a sender holding data back from a small
     * window sends it when the override timeout (0.1 to 1 s) expires; otherwise a peer
     * whose window stays small while nothing is in flight deadlocks the connection. */
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, NO_WS, PEER_WINDOW, 0);
    uint64_t t = T0 + 100 * MS;
    p.window = 500;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t);
    app_send(&tb, c, 0, 5000, t + 1 * MS);
    expect_nothing(&tb); /* no tiny segment at once */
    size_t got = 0;
    uint64_t first = 0;
    for (uint64_t now = t + 1 * MS; now < t + 120 * SEC && got < 5000; now += 10 * MS) {
        tb_advance(&tb, now);
        while (fake_link_pending(&tb.link)) {
            struct seg s = expect_seg(&tb);
            if (!first)
                first = s.at;
            cr_assert_leq(s.len, 500, "%zu bytes into a 500-byte window", s.len);
            if (s.len) {
                cr_assert_eq(s.r.seq, p.ack);
                got += s.len;
                peer_saw(&p, &s);
            }
            peer_send(&tb, &p, TCP_ACK, NULL, 0, now + 1 * MS);
        }
        if (!first)
            cr_assert_lt(now, t + 1001 * MS,
                         "nothing sent 1 s after the window shrank "
                         "below one MSS with data waiting");
    }
    cr_assert_eq(got, 5000, "only %zu of 5000 bytes went through a 500-byte window", got);
    testbed_free(&tb);
}

/* ---- Receiver silly-window avoidance (RFC 9293 3.8.6.2.2) -------------------------- */

/* A zero-length probe below the window: whatever the state, the answer is an ACK that
 * shows the window. */
static struct seg probe(struct testbed *tb, struct peer *p, uint64_t at)
{
    peer_send_seg(tb, p, p->seq - 1, p->ack, TCP_ACK, p->window, NULL, 0, at);
    struct seg a = expect_flags(tb, TCP_ACK);
    cr_assert_eq(a.r.ack, p->seq);
    return a;
}

Test(tcp_window, receive_window_opens_in_mss_steps_and_an_update_follows_reading)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, PEER_WINDOW, 0);
    uint64_t t = T0 + 100 * MS;
    static uint8_t buf[TB_TCP_RING];
    memset(buf, 'd', sizeof(buf));
    for (uint32_t off = 0; off < TB_TCP_RING; off += MSS_TS) {
        uint32_t n = TB_TCP_RING - off < MSS_TS ? TB_TCP_RING - off : MSS_TS;
        peer_send(&tb, &p, TCP_ACK, buf, n, t);
    }
    struct seg a;
    do
        a = expect_flags(&tb, TCP_ACK);
    while (fake_link_pending(&tb.link));
    cr_assert_eq(a.r.ack, p.seq);
    cr_assert_eq(a.r.window, 0, "the ring is full");

    /* 1000 bytes read: less than min(ring/2, MSS) — no update, and the window stays shut. */
    tb_advance(&tb, t + 10 * MS);
    cr_assert_eq(tcp_recv(TCP_OF(&tb), c, buf, 1000, t + 10 * MS), 1000);
    expect_nothing(&tb);
    cr_assert_eq(probe(&tb, &p, t + 11 * MS).r.window, 0, "a 1000-byte window is silly");
    /* 1460 read: one MSS — the update goes at once. */
    tb_advance(&tb, t + 12 * MS);
    cr_assert_eq(tcp_recv(TCP_OF(&tb), c, buf, 460, t + 12 * MS), 460);
    a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.at, t + 12 * MS);
    cr_assert_eq(a.r.ack, p.seq);
    cr_assert_eq(a.r.window, 1460, "window update: %u", a.r.window);
    expect_nothing(&tb);
    /* 100 more: the window does not creep up by 100. */
    tb_advance(&tb, t + 13 * MS);
    cr_assert_eq(tcp_recv(TCP_OF(&tb), c, buf, 100, t + 13 * MS), 100);
    expect_nothing(&tb);
    cr_assert_eq(probe(&tb, &p, t + 14 * MS).r.window, 1460);
    /* The rest: the whole ring is free, and the peer hears of it. */
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), TB_TCP_RING - 1560);
    a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.r.window, TB_TCP_RING);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_window, no_window_update_while_the_peer_still_knows_of_half_the_ring)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, PEER_WINDOW, 0);
    uint64_t t = T0 + 100 * MS;
    static uint8_t buf[2 * MSS_TS];
    memset(buf, 'h', sizeof(buf));
    peer_send(&tb, &p, TCP_ACK, buf, MSS_TS, t);
    peer_send(&tb, &p, TCP_ACK, buf, MSS_TS, t);
    struct seg a = expect_flags(&tb, TCP_ACK); /* every second segment */
    cr_assert_eq(a.r.ack, p.seq);
    cr_assert_eq(a.r.window, TB_TCP_RING - 2 * MSS_TS);
    /* Reading opens the window by two MSS, but the peer still has 5296 of 8192 bytes:
     * the next ACK will say so, a segment of its own is not worth it. */
    tb_advance(&tb, t + 10 * MS);
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 2 * MSS_TS);
    tb_advance(&tb, t + 1 * SEC);
    expect_nothing(&tb);
    testbed_free(&tb);
}

/* A peer that sends what our window allows in random sizes while the application reads
 * in random amounts: the right edge of every window we advertise (ACK + scaled window)
 * is at or beyond every earlier one. */
static void right_edge_never_moves_left(uint32_t rx)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    cfg.tcp_rx_size = rx;
    tcp_start_cfg(&tb, &cfg);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    uint8_t ws = sa.r.ws;
    uint32_t edge = sa.r.ack + sa.r.window;
    peer_saw(&p, &sa);
    p.ts = true;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 10 * MS);
    struct tcp_conn *c = last_event(&tb, NULL, TCP_EV_ACCEPTED)->conn;
    uint32_t rng = 12345;
    static uint8_t buf[1 << 18];
    memset(buf, 'e', 2048);
    size_t acks = 0;
    for (int step = 0; step < 3000; step++) {
        uint64_t now = T0 + 20 * MS + (uint64_t)step * MS;
        rng = rng * 1103515245u + 12345u;
        uint32_t room = edge - p.seq;
        uint32_t n = 1 + (rng >> 8) % MSS_TS;
        if (room && (rng >> 20) % 4)
            peer_send(&tb, &p, TCP_ACK, buf, n < room ? n : room, now);
        else
            tb_advance(&tb, now);
        if ((rng >> 24) % 5 == 0)
            tcp_recv(TCP_OF(&tb), c, buf + 4096, (rng >> 4) % (rx / 3), now);
        while (fake_link_pending(&tb.link)) {
            struct seg s = expect_flags(&tb, TCP_ACK);
            uint32_t e = s.r.ack + ((uint32_t)s.r.window << ws);
            cr_assert((int32_t)(e - edge) >= 0,
                      "step %d: right edge moved left by %d (ack %u window %u << %u)", step,
                      (int32_t)(edge - e), s.r.ack, s.r.window, ws);
            edge = e;
            acks++;
        }
    }
    cr_assert_gt(acks, 100);
    cr_assert_gt(conn_info(c).bytes_in, 4 * rx, "the window must have cycled");
    testbed_free(&tb);
}

Test(tcp_window, right_edge_never_moves_left)
{
    right_edge_never_moves_left(TB_TCP_RING);
}

Test(tcp_window, right_edge_never_moves_left_with_window_scaling)
{
    right_edge_never_moves_left(200000); /* shift 2: windows in units of 4 bytes */
}

Test(tcp_window, our_window_field_is_scaled_by_the_shift_we_announced)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    cfg.tcp_rx_size = 200000;
    tcp_start_cfg(&tb, &cfg);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert(sa.r.has_ws);
    cr_assert_eq(sa.r.ws, 2, "the smallest shift that covers 200000 bytes");
    cr_assert_eq(sa.r.window, 65535, "RFC 7323 2.2: a SYN's window is not scaled");
    peer_saw(&p, &sa);
    p.ts = true;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 10 * MS);
    static uint8_t buf[1000];
    memset(buf, 'w', sizeof(buf));
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, buf, sizeof(buf), T0 + 20 * MS);
    tb_advance(&tb, T0 + 200 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.r.ack, p.seq);
    /* 199000 bytes free, in units of 4. */
    cr_assert_eq(a.r.window, 49750, "window field %u, expected 199000 >> 2", a.r.window);
    testbed_free(&tb);
}

/* ---- A shrinking window (RFC 9293 3.8.6.2.1, RFC 1122 4.2.2.16) -------------------- */

Test(tcp_window, a_peer_that_shrinks_its_window_is_survived)
{
    struct testbed tb;
    struct peer p;
    struct close_log log;
    struct tcp_conn *c = setup(&tb, &p, NO_WS, 8 * MSS_TS, BIG_TX);
    log_closes(&tb, &log);
    uint32_t base = p.ack;
    uint64_t t = T0 + 100 * MS;
    const uint32_t total = 30000;
    app_send(&tb, c, 0, total, t);
    for (uint32_t k = 1; k <= 8; k++)
        expect_data(&tb, S(k), MSS_TS, t);
    expect_nothing(&tb);
    /* S(1), S(2) arrive; the peer's buffer shrinks: window one segment, right edge at
     * S(4) — four segments left of where it was. S(3)..S(8) are lost. */
    p.window = MSS_TS;
    uint32_t next = 2 * MSS_TS; /* what the peer has */
    ack_to(&tb, &p, S(3), t + 20 * MS);
    expect_nothing(&tb); /* nothing new past the shrunken edge */
    static uint8_t got[30000];
    for (uint32_t k = 0; k < next; k++)
        got[k] = pat(k);
    for (uint64_t now = t + 30 * MS; now < t + 120 * SEC && next < total; now += 10 * MS) {
        if (now >= t + 3 * SEC)
            p.window = PEER_WINDOW; /* the buffer drains */
        tb_advance(&tb, now);
        bool any = false;
        while (fake_link_pending(&tb.link)) {
            struct seg s = expect_seg(&tb);
            uint32_t redge = base + next + p.window;
            cr_assert_leq((int32_t)(s.r.seq + s.len - redge), 0,
                          "[%d, %d) sent past the peer's right edge %d", (int32_t)(s.r.seq - base),
                          (int32_t)(s.r.seq + s.len - base), (int32_t)(redge - base));
            uint32_t off = s.r.seq - base;
            if (s.len && off <= next && off + s.len > next) {
                memcpy(got + next, s.data + (next - off), off + s.len - next);
                next = off + (uint32_t)s.len;
            }
            any = true;
        }
        if (any)
            ack_to(&tb, &p, base + next, now + 1 * MS);
    }
    cr_assert_eq(next, total, "only %u of %u bytes delivered", next, total);
    for (uint32_t k = 0; k < total; k++)
        cr_assert_eq(got[k], pat(k), "byte %u corrupted", k);
    cr_assert_eq(log.n, 0, "the connection must survive");
    expect_state(c, TCP_ESTABLISHED);
    testbed_free(&tb);
}
