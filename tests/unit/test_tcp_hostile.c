/*
 * test_tcp_hostile.c — segments TCP did not ask for: RSTs for closed ports (RFC 9293
 * 3.10.7.1) and never for RSTs or broadcasts; the RFC 5961 defences (exact RSTs only,
 * challenge ACKs for in-window RSTs and any SYN, their rate limit, the ACK range check);
 * unacceptable segments (3.10.7.4); and a full table or listen backlog under a SYN flood,
 * where SYN cookies keep the listener answering and nothing is leaked.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_support.h"

#define SUBNET_BCAST NET_IP4(10, 0, 0, 255)

static struct tcp_conn *setup(struct testbed *tb, struct peer *p, uint8_t opts,
                              const struct tcp_cfg *tune)
{
    tcp_start(tb, tune);
    *p = peer_new(PEER_PORT, OUR_PORT, opts);
    return open_passive(tb, p, T0 + 10 * MS);
}

/* A pure ACK from us at exactly seq / ack. */
static struct seg expect_ack(struct testbed *tb, uint32_t seq, uint32_t ack)
{
    struct seg a = expect_flags(tb, TCP_ACK);
    cr_assert_eq(a.r.seq, seq, "ACK at seq %u, expected %u", a.r.seq, seq);
    cr_assert_eq(a.r.ack, ack, "ACK acknowledges %u, expected %u", a.r.ack, ack);
    cr_assert_eq(a.len, 0);
    return a;
}

/* ---- No connection: RST rules (RFC 9293 3.10.7.1) ---------------------------------- */

Test(tcp_hostile, closed_port_answers_a_segment_without_ack_with_rst_ack)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 81, PO_ALL);

    /* <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SEG.LEN counting SYN and FIN. */
    peer_send_seg(&tb, &p, 1000, 0, TCP_SYN, PEER_WINDOW, NULL, 0, T0 + 10 * MS);
    struct seg r = expect_flags(&tb, TCP_RST | TCP_ACK);
    cr_assert_eq(r.r.seq, 0);
    cr_assert_eq(r.r.ack, 1001);
    cr_assert_eq(r.r.src_port, 81);
    cr_assert_eq(r.r.dst_port, PEER_PORT);
    cr_assert_eq(r.dst, PEER);
    cr_assert_eq(r.len, 0);
    cr_assert_not(r.r.has_mss || r.r.has_ts || r.r.sack_perm || r.r.has_ws,
                  "a RST carries no options");

    peer_send_seg(&tb, &p, 2000, 0, TCP_SYN, PEER_WINDOW, "0123456789", 10, T0 + 20 * MS);
    r = expect_flags(&tb, TCP_RST | TCP_ACK);
    cr_assert_eq(r.r.seq, 0);
    cr_assert_eq(r.r.ack, 2011, "SYN + 10 bytes");

    peer_send_raw(&tb, &p, 3000, 0, TCP_FIN | TCP_PSH, PEER_WINDOW, NULL, 0, "abcde", 5,
                  T0 + 30 * MS);
    r = expect_flags(&tb, TCP_RST | TCP_ACK);
    cr_assert_eq(r.r.ack, 3006, "5 bytes + FIN");

    peer_send_raw(&tb, &p, 4000, 0, 0, PEER_WINDOW, NULL, 0, "xyz", 3, T0 + 40 * MS);
    r = expect_flags(&tb, TCP_RST | TCP_ACK);
    cr_assert_eq(r.r.ack, 4003, "no flags at all: still answered");
    cr_assert_eq(TCP_OF(&tb)->stats.rx_no_conn, 4);
    expect_nothing(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

Test(tcp_hostile, closed_port_answers_an_ack_with_rst_at_its_ack)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 81, 0);
    /* <SEQ=SEG.ACK><CTL=RST>. */
    peer_send_raw(&tb, &p, 1000, 0xdeadbeef, TCP_ACK, PEER_WINDOW, NULL, 0, NULL, 0, T0 + 10 * MS);
    struct seg r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, 0xdeadbeef);
    cr_assert_eq(r.r.src_port, 81);
    cr_assert_eq(r.r.dst_port, PEER_PORT);

    peer_send_raw(&tb, &p, 1000, 77, TCP_ACK | TCP_PSH | TCP_FIN, PEER_WINDOW, NULL, 0, "data", 4,
                  T0 + 20 * MS);
    r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, 77);

    peer_send_raw(&tb, &p, 1000, 5555, TCP_SYN | TCP_ACK, PEER_WINDOW, NULL, 0, NULL, 0,
                  T0 + 30 * MS);
    r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, 5555, "a stray SYN-ACK too");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_hostile, a_rst_is_never_answered)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    struct peer closed = peer_new(PEER_PORT, 81, 0);
    struct peer listening = peer_new(PEER_PORT, OUR_PORT, 0);
    peer_send_raw(&tb, &closed, 1000, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 10 * MS);
    peer_send_raw(&tb, &closed, 1000, 2000, TCP_RST | TCP_ACK, 0, NULL, 0, NULL, 0, T0 + 11 * MS);
    peer_send_raw(&tb, &closed, 1000, 0, TCP_RST | TCP_SYN, 0, NULL, 0, NULL, 0, T0 + 12 * MS);
    peer_send_raw(&tb, &listening, 1000, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 13 * MS);
    peer_send_raw(&tb, &listening, 1000, 2000, TCP_RST | TCP_ACK, 0, NULL, 0, NULL, 0,
                  T0 + 14 * MS);
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.tx_resets, 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

/* A SYN from the peer to `ip_dst` in an Ethernet frame to `eth_dst`. */
static void send_syn_to(struct testbed *tb, const struct net_mac *eth_dst, net_ip4 ip_dst,
                        uint16_t port, uint64_t at)
{
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    struct fr_tcp t = {
        .sport = PEER_PORT, .dport = port, .seq = 1000, .flags = TCP_SYN, .window = PEER_WINDOW};
    size_t n = fr_tcp(buf, eth_dst, &fr_mac_peer, PEER, ip_dst, &t, NULL, 0);
    tb_send(tb, buf, n, at);
}

Test(tcp_hostile, nothing_is_sent_to_broadcast_segments)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    /* RFC 1122 4.2.3.10: neither a RST from a closed port nor a SYN-ACK from a listener. */
    send_syn_to(&tb, &fr_mac_broadcast, SUBNET_BCAST, 81, T0 + 10 * MS);
    send_syn_to(&tb, &fr_mac_broadcast, SUBNET_BCAST, OUR_PORT, T0 + 11 * MS);
    send_syn_to(&tb, &fr_mac_broadcast, NET_IP4_BROADCAST, OUR_PORT, T0 + 12 * MS);
    send_syn_to(&tb, &fr_mac_broadcast, US, 81, T0 + 13 * MS);
    send_syn_to(&tb, &fr_mac_broadcast, US, OUR_PORT, T0 + 14 * MS);
    expect_nothing(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    cr_assert_eq(TCP_OF(&tb)->stats.tx_segments, 0);

    /* The same SYN unicast is answered. */
    send_syn_to(&tb, &mac_us, US, 81, T0 + 20 * MS);
    expect_flags(&tb, TCP_RST | TCP_ACK);
    testbed_free(&tb);
}

Test(tcp_hostile, listener_drops_segments_without_syn_and_resets_acks)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, 0);
    /* RFC 9293 3.10.7.2: in LISTEN, anything without SYN, ACK or RST is dropped. */
    peer_send_raw(&tb, &p, 1000, 0, TCP_FIN, PEER_WINDOW, NULL, 0, NULL, 0, T0 + 10 * MS);
    peer_send_raw(&tb, &p, 1000, 0, TCP_PSH, PEER_WINDOW, NULL, 0, "abc", 3, T0 + 11 * MS);
    expect_nothing(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    /* Any ACK in LISTEN is bad: <SEQ=SEG.ACK><CTL=RST>, a SYN-ACK included. */
    peer_send_raw(&tb, &p, 1000, 4242, TCP_SYN | TCP_ACK, PEER_WINDOW, NULL, 0, NULL, 0,
                  T0 + 12 * MS);
    struct seg r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, 4242);
    expect_nothing(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

/* ---- RFC 5961: blind RST, SYN and data injection ------------------------------------ */

Test(tcp_hostile, rst_exactly_at_rcv_nxt_resets)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    tcp_start(&tb, NULL);
    log_closes(&tb, &log);
    p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    peer_send_raw(&tb, &p, p.seq, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 100 * MS);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.e[0].conn, c);
    cr_assert_eq(log.e[0].reason, TCP_REASON_RESET);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_resets, 1);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_hostile, rst_in_window_but_not_exact_gets_a_challenge_ack)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    tcp_start(&tb, NULL);
    log_closes(&tb, &log);
    p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    uint32_t s = p.ack, r = p.seq;

    peer_send_raw(&tb, &p, r + 100, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 100 * MS);
    struct seg a = expect_ack(&tb, s, r);
    cr_assert_eq(a.at, T0 + 100 * MS);
    expect_nothing(&tb);
    expect_state(c, TCP_ESTABLISHED);
    cr_assert_eq(log.n, 0);
    cr_assert_eq(TCP_OF(&tb)->stats.challenge_acks, 1);

    peer_send_raw(&tb, &p, r + TB_TCP_RING - 1, s, TCP_RST | TCP_ACK, 0, NULL, 0, NULL, 0,
                  T0 + 110 * MS);
    expect_ack(&tb, s, r);
    expect_state(c, TCP_ESTABLISHED);

    /* The real peer answers the challenge with an exact RST. */
    peer_send_raw(&tb, &p, r, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 120 * MS);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.e[0].reason, TCP_REASON_RESET);
    testbed_free(&tb);
}

Test(tcp_hostile, rst_outside_the_window_is_ignored)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    tcp_start(&tb, NULL);
    log_closes(&tb, &log);
    p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    uint32_t r = p.seq;
    peer_send_raw(&tb, &p, r + 100000, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 100 * MS);
    peer_send_raw(&tb, &p, r + TB_TCP_RING, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 101 * MS);
    peer_send_raw(&tb, &p, r - 1, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 102 * MS);
    peer_send_raw(&tb, &p, r - 100000, 0, TCP_RST | TCP_ACK, 0, NULL, 0, NULL, 0, T0 + 103 * MS);
    expect_nothing(&tb);
    expect_state(c, TCP_ESTABLISHED);
    cr_assert_eq(log.n, 0);

    /* Still alive: data flows. */
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "ok", 2, T0 + 200 * MS);
    char b[4];
    cr_assert_eq(recv_all(&tb, c, b, sizeof(b)), 2);
    testbed_free(&tb);
}

Test(tcp_hostile, syn_on_an_established_connection_gets_a_challenge_ack)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    tcp_start(&tb, NULL);
    log_closes(&tb, &log);
    p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    uint32_t s = p.ack, r = p.seq;

    /* RFC 5961 4.2: whatever its sequence number, an ACK, and the connection lives. */
    peer_send_seg(&tb, &p, r, 0, TCP_SYN, PEER_WINDOW, NULL, 0, T0 + 100 * MS);
    expect_ack(&tb, s, r);
    cr_assert_eq(TCP_OF(&tb)->stats.challenge_acks, 1);
    peer_send_seg(&tb, &p, r + 1000, 0, TCP_SYN, PEER_WINDOW, NULL, 0, T0 + 110 * MS);
    expect_ack(&tb, s, r);
    peer_send_seg(&tb, &p, r + 100000, 0, TCP_SYN, PEER_WINDOW, NULL, 0, T0 + 120 * MS);
    expect_ack(&tb, s, r);
    peer_send_seg(&tb, &p, r - 5, s, TCP_SYN | TCP_ACK, PEER_WINDOW, NULL, 0, T0 + 130 * MS);
    expect_ack(&tb, s, r);
    expect_nothing(&tb);
    expect_state(c, TCP_ESTABLISHED);
    cr_assert_eq(log.n, 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);

    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "still", 5, T0 + 200 * MS);
    char b[8];
    cr_assert_eq(recv_all(&tb, c, b, sizeof(b)), 5);
    testbed_free(&tb);
}

Test(tcp_hostile, restarted_peer_recovers_through_the_challenge_ack)
{
    struct testbed tb;
    struct close_log log;
    struct peer p;
    tcp_start(&tb, NULL);
    log_closes(&tb, &log);
    p = peer_new(PEER_PORT, OUR_PORT, PO_MSS);
    open_passive(&tb, &p, T0 + 10 * MS);
    uint32_t s = p.ack, r = p.seq;

    /* The peer rebooted and connects again from the same port (RFC 5961 4, figure). */
    struct peer n = peer_new(PEER_PORT, OUR_PORT, PO_MSS);
    n.seq = 0x70000000u;
    peer_send_seg(&tb, &n, n.seq, 0, TCP_SYN, PEER_WINDOW, NULL, 0, T0 + 100 * MS);
    struct seg ch = expect_ack(&tb, s, r);
    /* Its SYN_SENT finds the ACK unacceptable and resets with <SEQ=SEG.ACK>. */
    peer_send_raw(&tb, &n, ch.r.ack, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 101 * MS);
    cr_assert_eq(log.n, 1, "the old connection is reset");
    cr_assert_eq(log.e[0].reason, TCP_REASON_RESET);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    expect_nothing(&tb);
    /* Its retransmitted SYN now opens the new connection. */
    open_passive(&tb, &n, T0 + 1100 * MS);
    testbed_free(&tb);
}

Test(tcp_hostile, rst_with_an_old_timestamp_still_resets)
{
    struct testbed tb;
    struct peer p;
    setup(&tb, &p, PO_ALL, NULL);
    /* RFC 7323 5.3 R1: PAWS drops old segments only with the RST bit off. */
    uint8_t o[TCP_OPT_MAX];
    size_t n = fr_tcp_opt_ts(o, PEER_TS - 1000, p.ts_ecr);
    peer_send_raw(&tb, &p, p.seq, 0, TCP_RST, 0, o, n, NULL, 0, T0 + 100 * MS);
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_paws, 0);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_resets, 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

Test(tcp_hostile, challenge_acks_are_rate_limited)
{
    static const struct tcp_cfg tune = {.challenge_ack_limit = 3};
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &tune);
    uint32_t s = p.ack, r = p.seq;
    uint64_t t = T0 + 2 * SEC;
    for (int k = 0; k < 5; k++)
        peer_send_raw(&tb, &p, r + 10 + (uint32_t)k, 0, TCP_RST, 0, NULL, 0, NULL, 0, t);
    for (int k = 0; k < 3; k++)
        expect_ack(&tb, s, r);
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.challenge_acks, 3);
    cr_assert_eq(TCP_OF(&tb)->stats.challenge_acks_limited, 2);
    /* SYNs draw from the same budget. */
    peer_send_seg(&tb, &p, r, 0, TCP_SYN, PEER_WINDOW, NULL, 0, t + 500 * MS);
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.challenge_acks_limited, 3);
    /* A second later the budget is back. */
    peer_send_raw(&tb, &p, r + 10, 0, TCP_RST, 0, NULL, 0, NULL, 0, t + 1 * SEC);
    expect_ack(&tb, s, r);
    expect_state(c, TCP_ESTABLISHED);
    testbed_free(&tb);
}

Test(tcp_hostile, challenge_acks_default_to_100_a_second)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, NULL);
    uint32_t s = p.ack, r = p.seq;
    uint64_t t = T0 + 2 * SEC;
    /* tcp.h's default challenge_ack_limit: 100 in any one second, the 101st is not
     * answered (RFC 5961 7 leaves the number to the implementation). */
    for (int k = 0; k < 101; k++)
        peer_send_raw(&tb, &p, r + 10, 0, TCP_RST, 0, NULL, 0, NULL, 0, t);
    for (int k = 0; k < 100; k++)
        expect_ack(&tb, s, r);
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.challenge_acks, 100);
    cr_assert_eq(TCP_OF(&tb)->stats.challenge_acks_limited, 1);
    expect_state(c, TCP_ESTABLISHED);
    testbed_free(&tb);
}

Test(tcp_hostile, ack_for_data_never_sent_is_dropped_with_an_ack)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, NULL);
    uint32_t s = p.ack, r = p.seq;
    size_t readable = count_events(&tb, c, TCP_EV_READABLE);
    /* RFC 9293 3.10.7.4 / RFC 5961 5.2: SEG.ACK > SND.NXT: send an ACK, drop it. */
    peer_send_seg(&tb, &p, r, s + 1000, TCP_ACK | TCP_PSH, PEER_WINDOW, "evil", 4, T0 + 100 * MS);
    struct seg a = expect_ack(&tb, s, r);
    cr_assert_eq(a.at, T0 + 100 * MS);
    cr_assert_eq(conn_info(c).unread, 0, "the data must not be delivered");
    cr_assert_eq(count_events(&tb, c, TCP_EV_READABLE), readable);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_bad_ack, 1);
    expect_state(c, TCP_ESTABLISHED);
    tb_advance(&tb, T0 + 1 * SEC);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_hostile, ack_older_than_the_max_window_is_dropped)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_MSS, NULL); /* no scaling: MAX.SND.WND 65535 */
    uint32_t s = p.ack, r = p.seq;
    cr_assert_eq(conn_info(c).snd_wnd, PEER_WINDOW);
    /* RFC 5961 5.2: acceptable only if SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT. */
    peer_send_seg(&tb, &p, r, s - PEER_WINDOW - 10, TCP_ACK | TCP_PSH, PEER_WINDOW, "old", 3,
                  T0 + 100 * MS);
    expect_ack(&tb, s, r);
    cr_assert_eq(conn_info(c).unread, 0, "the data must not be delivered");
    cr_assert_eq(TCP_OF(&tb)->stats.rx_bad_ack, 1);
    expect_nothing(&tb);

    /* Just inside the range: an old ACK, but the data is good. */
    peer_send_seg(&tb, &p, r, s - 1000, TCP_ACK | TCP_PSH, PEER_WINDOW, "new", 3, T0 + 200 * MS);
    char b[4];
    cr_assert_eq(recv_all(&tb, c, b, sizeof(b)), 3);
    cr_assert(memcmp(b, "new", 3) == 0);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_bad_ack, 1);
    testbed_free(&tb);
}

/* ---- Unacceptable segments (RFC 9293 3.10.7.4) ------------------------------------- */

Test(tcp_hostile, data_outside_the_window_is_acked_not_delivered)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, NULL);
    uint32_t s = p.ack, r = p.seq;
    size_t readable = count_events(&tb, c, TCP_EV_READABLE);

    peer_send_seg(&tb, &p, r + TB_TCP_RING + 100, s, TCP_ACK | TCP_PSH, PEER_WINDOW, "far", 3,
                  T0 + 100 * MS);
    struct seg a = expect_ack(&tb, s, r);
    cr_assert_eq(a.at, T0 + 100 * MS, "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> at once");
    cr_assert_eq(a.r.window, TB_TCP_RING);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_unacceptable, 1);

    /* Entirely old: a duplicate of bytes before RCV.NXT. */
    peer_send_seg(&tb, &p, r - 100, s, TCP_ACK | TCP_PSH, PEER_WINDOW, "0123456789", 10,
                  T0 + 200 * MS);
    expect_ack(&tb, s, r);
    cr_assert_eq(conn_info(c).unread, 0);
    cr_assert_eq(count_events(&tb, c, TCP_EV_READABLE), readable);
    expect_nothing(&tb);
    expect_state(c, TCP_ESTABLISHED);
    testbed_free(&tb);
}

/* ---- Full table, full backlog, SYN cookies ---------------------------------------- */

Test(tcp_hostile, full_table_still_answers_syns_and_existing_connections_work)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p[TB_TCP_CONNS];
    struct tcp_conn *c[TB_TCP_CONNS];
    for (int k = 0; k < TB_TCP_CONNS; k++) {
        p[k] = peer_new((uint16_t)(PEER_PORT + k), OUR_PORT, PO_ALL);
        c[k] = open_passive(&tb, &p[k], T0 + (10 + (uint64_t)k) * MS);
    }
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), TB_TCP_CONNS);

    struct peer n = peer_new(41000, OUR_PORT, PO_ALL);
    peer_send(&tb, &n, TCP_SYN, NULL, 0, T0 + 100 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(sa.r.ack, PEER_ISN + 1);
    cr_assert_eq(sa.r.dst_port, 41000);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_sent, 1, "a cookie: no slot to remember it");
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), TB_TCP_CONNS);

    /* The existing connections are untouched. */
    peer_send(&tb, &p[3], TCP_ACK | TCP_PSH, "ping", 4, T0 + 110 * MS);
    char b[8];
    cr_assert_eq(recv_all(&tb, c[3], b, sizeof(b)), 4);
    tb_advance(&tb, T0 + 300 * MS);
    struct seg a = expect_ack(&tb, p[3].ack, p[3].seq);
    cr_assert_eq(a.r.dst_port, PEER_PORT + 3);
    for (int k = 0; k < TB_TCP_CONNS; k++)
        expect_state(c[k], TCP_ESTABLISHED);

    /* Its cookie is good, but there is still no room: refused with a RST, cleanly. */
    peer_saw(&n, &sa);
    n.ts = true;
    peer_send(&tb, &n, TCP_ACK, NULL, 0, T0 + 400 * MS);
    struct seg rst = expect_flags(&tb, TCP_RST);
    cr_assert_eq(rst.r.seq, n.ack, "<SEQ=SEG.ACK><CTL=RST>");
    cr_assert_eq(rst.r.dst_port, 41000);
    cr_assert_eq(count_events(&tb, NULL, TCP_EV_ACCEPTED), TB_TCP_CONNS);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), TB_TCP_CONNS);
    expect_nothing(&tb);
    testbed_free(&tb);
}

/* Fill OUR_PORT's backlog of `backlog` with half-open connections from ports 30000... */
static void fill_backlog(struct testbed *tb, uint16_t backlog, uint64_t at)
{
    cr_assert_eq(tcp_listen(TCP_OF(tb), OUR_PORT, backlog, NULL), NET_OK);
    for (uint16_t k = 0; k < backlog; k++) {
        struct peer h = peer_new((uint16_t)(30000 + k), OUR_PORT, PO_ALL);
        peer_send(tb, &h, TCP_SYN, NULL, 0, at);
        expect_flags(tb, TCP_SYN | TCP_ACK);
    }
    cr_assert_eq(tcp_conns_in_use(TCP_OF(tb)), backlog);
    cr_assert_eq(TCP_OF(tb)->stats.syn_cookies_sent, 0);
}

Test(tcp_hostile, backlog_overflow_cookie_without_timestamps_keeps_the_mss)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    fill_backlog(&tb, 2, T0 + 10 * MS);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_MSS | PO_WS | PO_SACK);
    p.mss = 1400;
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 20 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_queue_full, 1);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_sent, 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 2, "a cookie keeps no state");
    cr_assert_eq(sa.r.ack, PEER_ISN + 1);
    cr_assert(sa.r.has_mss && sa.r.mss == OUR_MSS);
    /* Without timestamps the ACK could not bring WS or SACK back: not offered. */
    cr_assert_not(sa.r.has_ws);
    cr_assert_not(sa.r.sack_perm);
    cr_assert_not(sa.r.has_ts);

    peer_saw(&p, &sa);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 30 * MS);
    const struct tb_tcp_event *e = last_event(&tb, NULL, TCP_EV_ACCEPTED);
    cr_assert_not_null(e, "a valid cookie ACK creates the connection");
    struct tcp_conn *c = e->conn;
    struct tcp_conn_info i = conn_info(c);
    cr_assert_eq(i.state, TCP_ESTABLISHED);
    cr_assert_eq(i.remote_port, PEER_PORT);
    cr_assert_eq(i.snd_mss, 1400, "the cookie remembers the MSS");
    cr_assert_not(i.window_scaling || i.sack || i.timestamps);
    cr_assert_eq(i.snd_wnd, PEER_WINDOW);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_ok, 1);
    expect_nothing(&tb);

    /* Data both ways, in sequence with the cookie ISS. */
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "hi", 2, T0 + 40 * MS);
    char b[4];
    cr_assert_eq(recv_all(&tb, c, b, sizeof(b)), 2);
    tb_advance(&tb, T0 + 50 * MS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, "yo", 2, T0 + 50 * MS), 2);
    struct seg d = expect_flags(&tb, TCP_ACK | TCP_PSH);
    cr_assert_eq(d.r.seq, sa.r.seq + 1);
    cr_assert_eq(d.r.ack, PEER_ISN + 3);
    testbed_free(&tb);
}

Test(tcp_hostile, backlog_overflow_cookie_with_timestamps_keeps_ws_and_sack)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    fill_backlog(&tb, 2, T0 + 10 * MS);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 20 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_sent, 1);
    cr_assert(sa.r.has_ts && sa.r.ts_ecr == PEER_TS);
    cr_assert(sa.r.has_ws);
    cr_assert(sa.r.sack_perm);
    cr_assert_eq(sa.r.mss, OUR_MSS);

    peer_saw(&p, &sa);
    p.ts = true;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 30 * MS);
    const struct tb_tcp_event *e = last_event(&tb, NULL, TCP_EV_ACCEPTED);
    cr_assert_not_null(e);
    struct tcp_conn_info i = conn_info(e->conn);
    cr_assert_eq(i.state, TCP_ESTABLISHED);
    cr_assert(i.timestamps && i.window_scaling && i.sack, "all restored from the TSecr");
    cr_assert_eq(i.snd_mss, PEER_MSS - 12);
    cr_assert_eq(i.snd_wnd, (uint32_t)PEER_WINDOW << PEER_WS, "the peer's shift applies");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_hostile, cookie_mss_never_exceeds_the_peers)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    fill_backlog(&tb, 1, T0 + 10 * MS);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_MSS);
    p.mss = 1300;
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 20 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    peer_saw(&p, &sa);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 30 * MS);
    struct tcp_conn *c = last_event(&tb, NULL, TCP_EV_ACCEPTED)->conn;
    uint32_t mss = conn_info(c).snd_mss;
    cr_assert_leq(mss, 1300, "snd_mss %u above the peer's 1300", mss);
    cr_assert_geq(mss, 1200, "snd_mss %u needlessly small", mss);
    testbed_free(&tb);
}

Test(tcp_hostile, cookie_mss_never_exceeds_our_own)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    fill_backlog(&tb, 1, T0 + 10 * MS);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_MSS);
    p.mss = 9000; /* the cookie remembers 8960; our MTU still bounds what we send */
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 20 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_sent, 1);
    peer_saw(&p, &sa);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 30 * MS);
    struct tcp_conn *c = last_event(&tb, NULL, TCP_EV_ACCEPTED)->conn;
    cr_assert_eq(conn_info(c).snd_mss, OUR_MSS);
    testbed_free(&tb);
}

Test(tcp_hostile, forged_cookie_ack_gets_rst)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    fill_backlog(&tb, 1, T0 + 10 * MS);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, 0);
    peer_send_raw(&tb, &p, PEER_ISN + 1, 0x12345678, TCP_ACK, PEER_WINDOW, NULL, 0, NULL, 0,
                  T0 + 20 * MS);
    struct seg r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, 0x12345678);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_bad, 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    cr_assert_eq(tb.n_tcp_events, 0);

    /* A real cookie, but for another peer ISN (the ACK's seq does not match the SYN). */
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 30 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    peer_send_raw(&tb, &p, PEER_ISN + 1000, sa.r.seq + 1, TCP_ACK, PEER_WINDOW, NULL, 0, NULL, 0,
                  T0 + 40 * MS);
    r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, sa.r.seq + 1);
    cr_assert_eq(tb.n_tcp_events, 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    testbed_free(&tb);
}

Test(tcp_hostile, stale_cookie_ack_gets_rst)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    fill_backlog(&tb, 1, T0 + 10 * MS);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_MSS);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 20 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_sent, 1);
    peer_saw(&p, &sa);
    tb_advance(&tb, T0 + 20 * MS + 200 * SEC);
    skip_frames(&tb);                          /* the half-open connection's retransmissions */
    learn_peer(&tb, T0 + 20 * MS + 200 * SEC); /* the ARP entry has expired meanwhile */
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 20 * MS + 200 * SEC);
    struct seg r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, sa.r.seq + 1);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_bad, 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    cr_assert_eq(tb.n_tcp_events, 0);
    testbed_free(&tb);
}

Test(tcp_hostile, syn_flood_never_locks_out_a_real_client_and_leaks_nothing)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 4, NULL), NET_OK);
    for (uint16_t k = 0; k < 300; k++) {
        struct peer f = peer_new((uint16_t)(1000 + k), OUR_PORT, PO_ALL);
        f.seq = 0x40000000u + k * 7919u;
        peer_send(&tb, &f, TCP_SYN, NULL, 0, T0 + (10 + (uint64_t)k) * MS);
        struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
        cr_assert_eq(sa.r.ack, f.seq, "every SYN of the flood is answered");
        cr_assert_eq(sa.r.dst_port, 1000 + k);
    }
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 4, "no more half-open than the backlog");
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_sent, 296);
    skip_frames(&tb);

    /* A real client gets through, on a cookie. */
    struct peer p = peer_new(5000, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 400 * MS);
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "GET /", 5, T0 + 410 * MS);
    char b[8];
    cr_assert_eq(recv_all(&tb, c, b, sizeof(b)), 5);
    tb_advance(&tb, T0 + 420 * MS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, "200", 3, T0 + 420 * MS), 3);
    struct seg d = expect_flags(&tb, TCP_ACK | TCP_PSH);
    cr_assert_eq(d.r.seq, p.ack);
    cr_assert_eq(d.r.ack, p.seq);
    peer_saw(&p, &d);
    peer_send(&tb, &p, TCP_FIN | TCP_ACK, NULL, 0, T0 + 430 * MS);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 430 * MS), NET_OK);
    skip_frames(&tb); /* the ACK of its FIN, and ours */
    p.ack += 1;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 440 * MS);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 4, "the client's connection is gone");

    /* Half-open connections give up after their SYN-ACK retries; nothing is left. */
    tb_advance(&tb, T0 + 400 * SEC);
    skip_frames(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0, "%u slots leaked",
                 tcp_conns_in_use(TCP_OF(&tb)));
    cr_assert_eq(TCP_OF(&tb)->cfg.listeners[0].half_open, 0);

    /* And the next client gets a real slot again. */
    uint64_t cookies = TCP_OF(&tb)->stats.syn_cookies_sent;
    learn_peer(&tb, T0 + 401 * SEC); /* the ARP entry has expired meanwhile */
    struct peer q = peer_new(6000, OUR_PORT, PO_ALL);
    open_passive(&tb, &q, T0 + 401 * SEC);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_sent, cookies);
    testbed_free(&tb);
}

Test(tcp_hostile, data_without_ack_is_dropped)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, NULL);
    /* RFC 9293 3.10.7.4 fifth: if the ACK bit is off, drop the segment. */
    peer_send_seg(&tb, &p, p.seq, 0, TCP_PSH, PEER_WINDOW, "noack", 5, T0 + 100 * MS);
    tb_advance(&tb, T0 + 1 * SEC);
    expect_nothing(&tb);
    cr_assert_eq(conn_info(c).unread, 0);
    expect_state(c, TCP_ESTABLISHED);
    testbed_free(&tb);
}

Test(tcp_hostile, cookie_ack_carrying_data_delivers_it)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    fill_backlog(&tb, 1, T0 + 10 * MS);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 20 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_sent, 1);
    peer_saw(&p, &sa);
    p.ts = true;
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "GET /", 5, T0 + 30 * MS);
    const struct tb_tcp_event *e = last_event(&tb, NULL, TCP_EV_ACCEPTED);
    cr_assert_not_null(e);
    char b[8];
    cr_assert_eq(recv_all(&tb, e->conn, b, sizeof(b)), 5);
    cr_assert(memcmp(b, "GET /", 5) == 0);
    tb_advance(&tb, T0 + 300 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.r.seq, sa.r.seq + 1);
    cr_assert_eq(a.r.ack, PEER_ISN + 6);
    testbed_free(&tb);
}
