/*
 * test_tcp_close.c — how TCP connections end (RFC 9293 3.6, figures 12 and 13): active
 * and passive close, simultaneous close, half-close both ways, abort, TIME_WAIT while the
 * application holds the connection (2*MSL; once it has closed, TIME_WAIT is a record:
 * test_tcp_time_wait.c), data arriving after close, and the limits that free the slot of
 * a peer that vanished.
 *
 * Every connection here ends in CLOSED with its slot back in the table
 * (tcp_conns_in_use() == 0): that is what "nothing is lost" in tcp.h promises.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_support.h"

#define MSL (1 * SEC)
static const struct tcp_cfg fast = {.msl_ns = MSL, .fin_wait_2_ns = 5 * SEC};

/* The node up with `tune`, closes logged, and an established passive connection. */
static struct tcp_conn *setup(struct testbed *tb, struct close_log *log, struct peer *p,
                              uint8_t opts, const struct tcp_cfg *tune)
{
    tcp_start(tb, tune);
    log_closes(tb, log);
    *p = peer_new(PEER_PORT, OUR_PORT, opts);
    return open_passive(tb, p, T0 + 10 * MS);
}

/* The ACK for something the peer sent at `at`: within the delayed-ACK bound. */
static struct seg expect_ack_soon(struct testbed *tb, uint32_t seq, uint32_t ack, uint64_t at)
{
    tb_advance(tb, at + 200 * MS);
    struct seg a = expect_pure_ack(tb, seq, ack);
    cr_assert_leq(a.at, at + 200 * MS, "RFC 9293 3.8.6.3: ACK delay under 0.5 s");
    return a;
}

/* ---- Graceful close --------------------------------------------------------------- */

Test(tcp_close, active_close_fin_wait_to_time_wait_then_closed_after_2msl)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;

    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_shutdown(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    struct seg fin = expect_our_fin(&tb, &p);
    cr_assert_eq(fin.at, T0 + 100 * MS);
    expect_state(c, TCP_FIN_WAIT_1);

    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 110 * MS);
    expect_nothing(&tb);
    expect_state(c, TCP_FIN_WAIT_2);

    peer_send(&tb, &p, TCP_FIN | TCP_ACK, NULL, 0, T0 + 200 * MS);
    struct seg a = expect_pure_ack(&tb, s + 1, r + 1);
    cr_assert_eq(a.at, T0 + 200 * MS, "the FIN is acknowledged at once");
    expect_state(c, TCP_TIME_WAIT);
    cr_assert_eq(count_events(&tb, c, TCP_EV_PEER_CLOSED), 1);
    cr_assert_eq(log.n, 0);

    tb_advance(&tb, T0 + 200 * MS + 2 * MSL - 1);
    expect_state(c, TCP_TIME_WAIT);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    cr_assert_eq(log.n, 0);
    tb_advance(&tb, T0 + 200 * MS + 2 * MSL);
    cr_assert_eq(log.n, 1, "CLOSED exactly 2*MSL after entering TIME_WAIT");
    cr_assert_eq(log.e[0].conn, c);
    cr_assert_eq(log.e[0].reason, TCP_REASON_NORMAL);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_close, passive_close_close_wait_last_ack_closed_normal)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;

    peer_send(&tb, &p, TCP_FIN | TCP_ACK, NULL, 0, T0 + 100 * MS);
    expect_ack_soon(&tb, s, r + 1, T0 + 100 * MS);
    expect_state(c, TCP_CLOSE_WAIT);
    cr_assert_eq(count_events(&tb, c, TCP_EV_PEER_CLOSED), 1, "the application hears EOF");
    cr_assert(conn_info(c).peer_closed);
    char b[4];
    cr_assert_eq(tcp_recv(TCP_OF(&tb), c, b, sizeof(b), tb.now), 0, "EOF reads 0");

    tb_advance(&tb, T0 + 400 * MS);
    cr_assert_eq(tcp_shutdown(TCP_OF(&tb), c, T0 + 400 * MS), NET_OK);
    struct seg fin = expect_our_fin(&tb, &p);
    cr_assert_eq(fin.r.ack, r + 1);
    expect_state(c, TCP_LAST_ACK);
    cr_assert_eq(log.n, 0);

    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 410 * MS);
    cr_assert_eq(log.n, 1, "the ACK of our FIN ends LAST_ACK");
    cr_assert_eq(log.e[0].conn, c);
    cr_assert_eq(log.e[0].reason, TCP_REASON_NORMAL);
    cr_assert_eq(log.e[0].at, T0 + 410 * MS);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_close, simultaneous_close_closing_then_time_wait)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;

    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_shutdown(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    expect_our_fin(&tb, &p);
    /* The peer's FIN crosses ours: it acknowledges only what came before our FIN. */
    peer_send_seg(&tb, &p, r, s, TCP_FIN | TCP_ACK, p.window, NULL, 0, T0 + 101 * MS);
    p.seq = r + 1;
    expect_pure_ack(&tb, s + 1, r + 1);
    expect_state(c, TCP_CLOSING);

    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 102 * MS); /* acknowledges our FIN */
    expect_nothing(&tb);
    expect_state(c, TCP_TIME_WAIT);
    tb_advance(&tb, T0 + 102 * MS + 2 * MSL - 1);
    cr_assert_eq(log.n, 0);
    tb_advance(&tb, T0 + 102 * MS + 2 * MSL);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.e[0].reason, TCP_REASON_NORMAL);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    expect_nothing(&tb);
    testbed_free(&tb);
}

/* ---- Half-close ------------------------------------------------------------------- */

Test(tcp_close, after_our_shutdown_the_peer_can_still_send)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;

    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_shutdown(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    expect_our_fin(&tb, &p);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 110 * MS);
    expect_state(c, TCP_FIN_WAIT_2);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, "x", 1, T0 + 110 * MS), NET_EINVAL,
                 "no sending after shutdown");

    size_t readable = count_events(&tb, c, TCP_EV_READABLE);
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "hello world", 11, T0 + 200 * MS);
    cr_assert_eq(count_events(&tb, c, TCP_EV_READABLE), readable + 1);
    char buf[32];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 11);
    cr_assert(memcmp(buf, "hello world", 11) == 0);
    expect_ack_soon(&tb, s + 1, r + 11, T0 + 200 * MS);
    expect_state(c, TCP_FIN_WAIT_2);

    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "more", 4, T0 + 500 * MS);
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 4);
    cr_assert(memcmp(buf, "more", 4) == 0);
    expect_ack_soon(&tb, s + 1, r + 15, T0 + 500 * MS);

    peer_send(&tb, &p, TCP_FIN | TCP_ACK, NULL, 0, T0 + 800 * MS);
    expect_pure_ack(&tb, s + 1, r + 16);
    expect_state(c, TCP_TIME_WAIT);
    cr_assert_eq(count_events(&tb, c, TCP_EV_PEER_CLOSED), 1);
    tb_advance(&tb, T0 + 800 * MS + 2 * MSL);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.e[0].reason, TCP_REASON_NORMAL);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

Test(tcp_close, after_the_peers_fin_we_can_still_send)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;

    peer_send(&tb, &p, TCP_FIN | TCP_ACK, NULL, 0, T0 + 100 * MS);
    expect_ack_soon(&tb, s, r + 1, T0 + 100 * MS);
    expect_state(c, TCP_CLOSE_WAIT);

    tb_advance(&tb, T0 + 400 * MS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, "reply", 5, T0 + 400 * MS), 5);
    struct seg d = expect_flags(&tb, TCP_ACK | TCP_PSH);
    cr_assert_eq(d.r.seq, s);
    cr_assert_eq(d.r.ack, r + 1);
    cr_assert_eq(d.len, 5);
    cr_assert(memcmp(d.data, "reply", 5) == 0);
    peer_saw(&p, &d);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 410 * MS);
    expect_nothing(&tb);
    cr_assert_eq(conn_info(&*c).in_flight, 0);

    tb_advance(&tb, T0 + 500 * MS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, "more", 4, T0 + 500 * MS), 4);
    d = expect_flags(&tb, TCP_ACK | TCP_PSH);
    cr_assert_eq(d.r.seq, s + 5);
    cr_assert_eq(d.len, 4);
    peer_saw(&p, &d);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 510 * MS);

    tb_advance(&tb, T0 + 600 * MS);
    cr_assert_eq(tcp_shutdown(TCP_OF(&tb), c, T0 + 600 * MS), NET_OK);
    struct seg fin = expect_our_fin(&tb, &p);
    cr_assert_eq(fin.r.seq, s + 9);
    expect_state(c, TCP_LAST_ACK);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 610 * MS);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.e[0].reason, TCP_REASON_NORMAL);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

Test(tcp_close, close_delivers_queued_data_before_the_fin)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    tcp_start(&tb, &fast);
    log_closes(&tb, &log);
    p = peer_new(PEER_PORT, OUR_PORT, PO_MSS);
    p.window = 100; /* room for a third of what we send */
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    uint32_t s = p.ack, r = p.seq;
    static uint8_t data[300];
    for (size_t k = 0; k < sizeof(data); k++)
        data[k] = (uint8_t)(k * 7);
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, data, sizeof(data), T0 + 100 * MS), 300);
    struct seg d = expect_seg(&tb);
    cr_assert_eq(d.r.seq, s);
    cr_assert_eq(d.len, 100);
    cr_assert_eq(d.r.flags & TCP_FIN, 0);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    expect_nothing(&tb); /* the FIN waits behind 200 unsent bytes */
    expect_state(c, TCP_FIN_WAIT_1);

    p.window = 1000;
    p.ack = s + 100;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 110 * MS);
    d = expect_seg(&tb);
    cr_assert_eq(d.r.seq, s + 100);
    cr_assert_eq(d.len, 200);
    cr_assert(memcmp(d.data, data + 100, 200) == 0);
    struct seg fin = d;
    if (!(d.r.flags & TCP_FIN))
        fin = expect_flags(&tb, TCP_FIN | TCP_ACK);
    cr_assert_eq(fin.r.seq + (uint32_t)fin.len, s + 300, "FIN after the last byte");
    cr_assert_eq(fin.r.ack, r);

    p.ack = s + 301;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 120 * MS);
    expect_state(c, TCP_FIN_WAIT_2);
    expect_nothing(&tb);
    testbed_free(&tb);
}

/* ---- Abort ------------------------------------------------------------------------ */

Test(tcp_close, abort_sends_rst_and_frees_the_slot_at_once)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, "unacked", 7, T0 + 100 * MS), 7);
    struct seg d = expect_seg(&tb);
    cr_assert_eq(d.len, 7);

    tb_advance(&tb, T0 + 150 * MS);
    tcp_abort(TCP_OF(&tb), c, T0 + 150 * MS);
    /* RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>. */
    struct seg rst = expect_seg(&tb);
    cr_assert(rst.r.flags & TCP_RST, "abort must send a RST");
    cr_assert_eq(rst.r.flags & (TCP_SYN | TCP_FIN), 0);
    cr_assert_eq(rst.r.seq, s + 7, "RST at SND.NXT");
    if (rst.r.flags & TCP_ACK)
        cr_assert_eq(rst.r.ack, r);
    cr_assert_eq(rst.len, 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0, "the slot is free at once");
    cr_assert_eq(log.n, 0, "tcp_abort reports no event");
    expect_nothing(&tb);

    /* The connection is gone: the peer's next segment is answered as for no connection
     * (3.10.7.1: <SEQ=SEG.ACK><CTL=RST>). */
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "late", 4, T0 + 200 * MS);
    rst = expect_flags(&tb, TCP_RST);
    cr_assert_eq(rst.r.seq, p.ack);
    tb_advance(&tb, T0 + 100 * SEC);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_close, close_with_unread_data_resets)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    uint32_t s = p.ack;
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "unread", 6, T0 + 100 * MS);
    tb_advance(&tb, T0 + 300 * MS);
    skip_frames(&tb); /* its ACK */
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 300 * MS), NET_OK);
    /* RFC 1122 4.2.2.13 / RFC 2525 2.17: data was lost, say so with a RST, not a FIN. */
    struct seg rst = expect_seg(&tb);
    cr_assert(rst.r.flags & TCP_RST);
    cr_assert_eq(rst.r.flags & TCP_FIN, 0);
    cr_assert_eq(rst.r.seq, s);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_close, data_after_close_is_answered_with_rst)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    expect_our_fin(&tb, &p);
    /* The peer acknowledges our FIN and keeps talking: nobody will read it. */
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "anyone?", 7, T0 + 200 * MS);
    struct seg rst = expect_seg(&tb);
    cr_assert(rst.r.flags & TCP_RST, "RFC 1122 4.2.2.13: data after CLOSE gets a RST");
    cr_assert_eq(rst.r.seq, s + 1, "the RST must be at the peer's RCV.NXT to be believed");
    if (rst.r.flags & TCP_ACK)
        cr_assert_eq(rst.r.ack, r);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_after_close, 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    cr_assert_eq(log.n, 0, "a closed connection reports nothing");
    expect_nothing(&tb);
    testbed_free(&tb);
}

/* ---- Peers that vanish ------------------------------------------------------------ */

Test(tcp_close, fin_wait_1_with_a_silent_peer_ends)
{
    static const struct tcp_cfg tune = {.max_retries = 4, .msl_ns = MSL};
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &tune);
    uint32_t s = p.ack;
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    struct seg fin = expect_our_fin(&tb, &p);

    uint64_t last = fin.at, gap = 0;
    int resent = 0;
    tb_advance(&tb, T0 + 600 * SEC);
    const struct fake_frame *f;
    while ((f = tb_next(&tb)) != NULL) {
        struct seg r;
        parse_seg(f, &r);
        cr_assert_eq(r.r.flags & (TCP_FIN | TCP_SYN), TCP_FIN, "only the FIN is resent");
        cr_assert_eq(r.r.seq, s, "the same FIN");
        if (gap)
            cr_assert_eq(r.at - last, 2 * gap, "RFC 6298 5.5: the timeout doubles");
        gap = r.at - last;
        last = r.at;
        resent++;
    }
    cr_assert_eq(resent, 4, "max_retries retransmissions of the FIN");
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0, "the slot comes back");
    cr_assert_eq(TCP_OF(&tb)->stats.timeouts, 1);
    testbed_free(&tb);
}

Test(tcp_close, a_fin_retransmission_the_device_refuses_goes_out_when_it_has_room)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    uint32_t s = p.ack;
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    struct seg fin = expect_our_fin(&tb, &p);
    uint64_t rto = conn_info(c).rto_ns;
    /* The FIN is lost and the device is full when the timer fires: the FIN waits for
     * the device, not for the next (doubled) timeout. */
    tb.link.full = true;
    tb_advance(&tb, fin.at + rto);
    cr_assert_geq(TCP_OF(&tb)->stats.tx_failed, 1);
    cr_assert_geq(TCP_OF(&tb)->stats.tx_blocked, 1);
    cr_assert(tcp_tx_blocked(TCP_OF(&tb)));
    expect_nothing(&tb);
    tb.link.full = false;
    tb_poll(&tb, fin.at + rto + 1 * MS);
    struct seg again = expect_flags(&tb, TCP_FIN | TCP_ACK);
    cr_assert_eq(again.r.seq, s);
    cr_assert_eq(again.at, fin.at + rto + 1 * MS, "sent at the first poll with room");
    cr_assert_not(tcp_tx_blocked(TCP_OF(&tb)));
    peer_send(&tb, &p, TCP_FIN | TCP_ACK, NULL, 0, again.at + 1 * MS);
    expect_pure_ack(&tb, s + 1, p.seq);
    tb_advance(&tb, again.at + 1 * MS + 2 * MSL);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

Test(tcp_close, fin_wait_2_ends_after_the_fin_wait_2_timeout)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    expect_our_fin(&tb, &p);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 110 * MS);
    expect_state(c, TCP_FIN_WAIT_2);
    tb_advance(&tb, T0 + 110 * MS + 5 * SEC - 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    tb_advance(&tb, T0 + 110 * MS + 5 * SEC);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0, "fin_wait_2_ns after entering FIN_WAIT_2");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_close, close_after_shutdown_bounds_fin_wait_2)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &fast);
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_shutdown(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    expect_our_fin(&tb, &p);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 110 * MS);
    expect_state(c, TCP_FIN_WAIT_2);
    /* Half-closed and still attached: the peer may talk for as long as it likes. */
    tb_advance(&tb, T0 + 60 * SEC);
    expect_state(c, TCP_FIN_WAIT_2);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 60 * SEC), NET_OK);
    tb_advance(&tb, T0 + 65 * SEC - 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    tb_advance(&tb, T0 + 65 * SEC);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    cr_assert_eq(log.n, 0, "closed by the application: no event");
    testbed_free(&tb);
}

Test(tcp_close, syn_received_never_completed_is_freed)
{
    static const struct tcp_cfg tune = {.syn_retries = 2};
    struct testbed tb;
    tcp_start(&tb, &tune);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    uint64_t t = T0 + 10 * MS;
    peer_send(&tb, &p, TCP_SYN, NULL, 0, t);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(TCP_OF(&tb)->cfg.listeners[0].half_open, 1);

    static const uint64_t at[] = {1 * SEC, 3 * SEC};
    for (int k = 0; k < 2; k++) {
        tb_advance(&tb, t + at[k] - 1);
        expect_nothing(&tb);
        tb_advance(&tb, t + at[k]);
        struct seg r = expect_flags(&tb, TCP_SYN | TCP_ACK);
        cr_assert_eq(r.r.seq, sa.r.seq);
        cr_assert_eq(r.r.ack, PEER_ISN + 1);
        cr_assert(r.r.has_mss && r.r.has_ws && r.r.sack_perm && r.r.has_ts);
    }
    tb_advance(&tb, t + 7 * SEC - 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    tb_advance(&tb, t + 7 * SEC);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0, "freed after syn_retries");
    cr_assert_eq(TCP_OF(&tb)->cfg.listeners[0].half_open, 0, "the backlog slot returns");
    cr_assert_eq(tb.n_tcp_events, 0, "never accepted, never reported");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_close, last_ack_with_a_silent_peer_ends)
{
    static const struct tcp_cfg tune = {.max_retries = 3};
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &tune);
    peer_send(&tb, &p, TCP_FIN | TCP_ACK, NULL, 0, T0 + 100 * MS);
    tb_advance(&tb, T0 + 300 * MS);
    skip_frames(&tb);
    cr_assert_eq(tcp_shutdown(TCP_OF(&tb), c, T0 + 300 * MS), NET_OK);
    expect_our_fin(&tb, &p);
    expect_state(c, TCP_LAST_ACK);
    tb_advance(&tb, T0 + 600 * SEC);
    cr_assert_eq(skip_frames(&tb), 3, "max_retries retransmissions of the FIN");
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.e[0].reason, TCP_REASON_TIMEOUT);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

Test(tcp_close, closing_with_a_silent_peer_ends)
{
    static const struct tcp_cfg tune = {.max_retries = 3};
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, &tune);
    uint32_t s = p.ack, r = p.seq;
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_shutdown(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    expect_our_fin(&tb, &p);
    peer_send_seg(&tb, &p, r, s, TCP_FIN | TCP_ACK, p.window, NULL, 0, T0 + 101 * MS);
    expect_pure_ack(&tb, s + 1, r + 1);
    expect_state(c, TCP_CLOSING);
    tb_advance(&tb, T0 + 600 * SEC);
    cr_assert_eq(skip_frames(&tb), 3, "max_retries retransmissions of the FIN");
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.e[0].reason, TCP_REASON_TIMEOUT);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

Test(tcp_close, close_while_connecting_frees_at_once)
{
    struct testbed tb;
    struct close_log log;
    tcp_start(&tb, NULL);
    log_closes(&tb, &log);
    struct peer p = peer_new(PEER_PORT, 50000, 0);
    int err;
    tb_advance(&tb, T0 + 10 * MS);
    struct tcp_conn *c = tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 50000, NULL, T0 + 10 * MS, &err);
    cr_assert_not_null(c);
    struct seg syn = expect_flags(&tb, TCP_SYN);
    /* RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB; nothing to tell the peer. */
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 20 * MS), NET_OK);
    expect_nothing(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    cr_assert_eq(log.n, 0);
    tb_advance(&tb, T0 + 10 * SEC);
    expect_nothing(&tb);
    /* A late SYN-ACK finds no connection: <SEQ=SEG.ACK><CTL=RST>. */
    peer_send_seg(&tb, &p, PEER_ISN, syn.r.seq + 1, TCP_SYN | TCP_ACK, PEER_WINDOW, NULL, 0,
                  T0 + 10 * SEC);
    struct seg r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, syn.r.seq + 1);
    testbed_free(&tb);
}

Test(tcp_close, unlisten_resets_half_open_and_keeps_established)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &log, &p, PO_ALL, NULL);
    struct peer h = peer_new(PEER_PORT + 1, OUR_PORT, PO_ALL);
    peer_send(&tb, &h, TCP_SYN, NULL, 0, T0 + 20 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 2);

    tb_advance(&tb, T0 + 30 * MS);
    cr_assert_eq(tcp_unlisten(TCP_OF(&tb), OUR_PORT, T0 + 30 * MS), NET_OK);
    struct seg r = expect_seg(&tb);
    cr_assert(r.r.flags & TCP_RST, "the half-open connection is reset");
    cr_assert_eq(r.r.dst_port, PEER_PORT + 1);
    cr_assert_eq(r.r.seq, sa.r.seq + 1, "at its RCV.NXT, so the peer believes it");
    expect_nothing(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    expect_state(c, TCP_ESTABLISHED);

    /* The port is closed now: a new SYN is refused. */
    struct peer q = peer_new(PEER_PORT + 2, OUR_PORT, 0);
    peer_send(&tb, &q, TCP_SYN, NULL, 0, T0 + 40 * MS);
    r = expect_flags(&tb, TCP_RST | TCP_ACK);
    cr_assert_eq(r.r.ack, PEER_ISN + 1);
    /* The established connection still works. */
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "still", 5, T0 + 50 * MS);
    char b[8];
    cr_assert_eq(recv_all(&tb, c, b, sizeof(b)), 5);
    testbed_free(&tb);
}
