/*
 * test_tcp_conn.c — TCP connection opening: passive and active open with the options
 * each side offers (RFC 9293 3.5, RFC 7323, RFC 2018), MSS both ways (3.7.1),
 * simultaneous open (figure 7), initial sequence numbers (RFC 6528), SYN retransmission
 * and the ways a connect fails (RST, ICMP, silence), and RSTs for unacceptable ACKs in
 * the half-synchronized states (3.10.7.3, 3.10.7.4).
 *
 * Segments in are built with harness/frames.h (tcp_support.h); segments out are parsed
 * and their checksums verified independently. Every step names its time.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "netstack/icmp_wire.h"
#include "tcp_support.h"

/* The ISS a fresh node (seed `seed`) answers a SYN from `port` with at time `at`. */
static uint32_t iss_for(uint64_t seed, uint16_t port, uint64_t at)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    cfg.seed = seed;
    tcp_start_cfg(&tb, &cfg);
    struct peer p = peer_new(port, OUR_PORT, PO_MSS);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, at);
    struct seg s = expect_flags(&tb, TCP_SYN | TCP_ACK);
    testbed_free(&tb);
    return s.r.seq;
}

/* An ICMP destination unreachable from the peer quoting `f` (a frame the node sent). */
static void send_unreachable(struct testbed *tb, const struct fake_frame *f, uint8_t code,
                             uint64_t at)
{
    uint8_t quote[IPV4_HDR_LEN + ICMP_QUOTE_DATA], msg[64], buf[FAKE_LINK_FRAME_MAX];
    memcpy(quote, f->data + ETH_HDR_LEN, sizeof(quote));
    size_t n = fr_icmp_msg(msg, ICMP_DEST_UNREACH, code, 0, 0, quote, sizeof(quote));
    struct fr_ip ip = {.src = PEER, .dst = US, .proto = IPV4_PROTO_ICMP};
    size_t len = fr_ipv4(buf, &mac_us, &fr_mac_peer, &ip, msg, n);
    tb_send(tb, buf, len, at);
}

/* tcp_connect from OUR_PORT + 1000 at `at`, returning the connection and its SYN. */
static struct tcp_conn *connect_at(struct testbed *tb, struct peer *p, uint64_t at, struct seg *syn)
{
    int err = 1;
    tb_advance(tb, at);
    struct tcp_conn *c = tcp_connect(TCP_OF(tb), p->ip, p->port, p->our_port, NULL, at, &err);
    cr_assert_not_null(c, "tcp_connect failed: %d", err);
    *syn = expect_flags(tb, TCP_SYN);
    peer_saw(p, syn);
    return c;
}

/* ---- Passive open ---------------------------------------------------------------- */

Test(tcp_conn, passive_open_answers_every_option_in_kind)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);

    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(sa.at, T0 + 10 * MS, "SYN-ACK must leave at once");
    cr_assert_eq(sa.r.src_port, OUR_PORT);
    cr_assert_eq(sa.r.dst_port, PEER_PORT);
    cr_assert_eq(sa.r.ack, PEER_ISN + 1, "SYN-ACK must acknowledge the SYN");
    cr_assert_eq(sa.r.window, TB_TCP_RING, "SYN-ACK window: the whole ring, unscaled");
    cr_assert(sa.r.has_mss && sa.r.mss == OUR_MSS, "MSS must be MTU - 40");
    cr_assert(sa.r.has_ws, "peer offered window scaling: answer it");
    cr_assert_eq(sa.r.ws, 0, "an 8 KiB ring needs no shift");
    cr_assert(sa.r.sack_perm, "peer offered SACK: answer it");
    cr_assert(sa.r.has_ts, "peer offered timestamps: answer them");
    cr_assert_eq(sa.r.ts_ecr, PEER_TS, "TSecr must echo the SYN's TSval");
    cr_assert_eq(sa.len, 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    cr_assert_eq(tb.n_tcp_events, 0, "no event before the handshake completes");
    expect_nothing(&tb);
    peer_saw(&p, &sa);
    p.ts = true;

    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 20 * MS);
    cr_assert_eq(count_events(&tb, NULL, TCP_EV_ACCEPTED), 1, "ACCEPTED once");
    struct tcp_conn *c = last_event(&tb, NULL, TCP_EV_ACCEPTED)->conn;
    struct tcp_conn_info i = conn_info(c);
    cr_assert_eq(i.state, TCP_ESTABLISHED);
    cr_assert_eq(i.remote_ip, PEER);
    cr_assert_eq(i.local_port, OUR_PORT);
    cr_assert_eq(i.remote_port, PEER_PORT);
    cr_assert(i.sack && i.timestamps && i.window_scaling, "all three options in use");
    cr_assert_eq(i.snd_mss, PEER_MSS - 12, "payload per segment: MSS less the TS option");
    cr_assert_eq(i.snd_wnd, (uint32_t)PEER_WINDOW << PEER_WS, "peer's window is scaled");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_conn, passive_open_offers_nothing_the_peer_did_not)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, 0);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);

    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(sa.r.ack, PEER_ISN + 1);
    cr_assert(sa.r.has_mss && sa.r.mss == OUR_MSS, "our MSS is always announced");
    cr_assert_not(sa.r.has_ws, "RFC 7323 2.2: no WS in a SYN-ACK to a SYN without one");
    cr_assert_not(sa.r.sack_perm, "RFC 2018: no SACK-permitted unless the SYN had it");
    cr_assert_not(sa.r.has_ts, "RFC 7323 3.2: no TS in a SYN-ACK to a SYN without one");
    peer_saw(&p, &sa);

    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 20 * MS);
    struct tcp_conn *c = last_event(&tb, NULL, TCP_EV_ACCEPTED)->conn;
    struct tcp_conn_info i = conn_info(c);
    cr_assert_eq(i.state, TCP_ESTABLISHED);
    cr_assert_not(i.sack || i.timestamps || i.window_scaling);
    cr_assert_eq(i.snd_mss, TCP_DEFAULT_MSS, "RFC 9293 3.7.1: no MSS option means 536");
    cr_assert_eq(i.snd_wnd, PEER_WINDOW, "no window scaling: the window is as sent");

    /* Its segments carry no options either, and the window is unscaled. */
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, "x", 1, T0 + 30 * MS), 1);
    struct seg d = expect_flags(&tb, TCP_ACK | TCP_PSH);
    cr_assert_not(d.r.has_ts, "no TS option on a connection without timestamps");
    cr_assert_eq(d.r.hdr_len, TCP_HDR_LEN, "no options at all");
    cr_assert_eq(d.r.window, TB_TCP_RING);
    testbed_free(&tb);
}

Test(tcp_conn, passive_open_with_timestamps_only)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_MSS | PO_TS);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert(sa.r.has_ts && sa.r.ts_ecr == PEER_TS);
    cr_assert_not(sa.r.has_ws);
    cr_assert_not(sa.r.sack_perm);
    peer_saw(&p, &sa);
    p.ts = true;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 20 * MS);
    struct tcp_conn *c = last_event(&tb, NULL, TCP_EV_ACCEPTED)->conn;
    struct tcp_conn_info i = conn_info(c);
    cr_assert(i.timestamps);
    cr_assert_not(i.window_scaling || i.sack);
    cr_assert_eq(i.snd_wnd, PEER_WINDOW);
    testbed_free(&tb);
}

/* ---- Active open ----------------------------------------------------------------- */

Test(tcp_conn, active_open_offers_every_option_and_acks_the_syn_ack)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 0, PO_ALL);
    p.mss = 1400;
    int err = 1;
    tb_advance(&tb, T0 + 10 * MS);
    struct tcp_conn *c = tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 0, NULL, T0 + 10 * MS, &err);
    cr_assert_not_null(c);
    cr_assert_eq(err, NET_OK);
    expect_state(c, TCP_SYN_SENT);

    struct seg syn = expect_flags(&tb, TCP_SYN);
    cr_assert_eq(syn.at, T0 + 10 * MS);
    cr_assert_eq(syn.dst, PEER);
    cr_assert_eq(syn.r.dst_port, PEER_PORT);
    cr_assert_geq(syn.r.src_port, 49152, "an ephemeral port (RFC 6335)");
    cr_assert_eq(syn.r.src_port, conn_info(c).local_port);
    cr_assert_eq(syn.r.ack, 0, "no ACK flag: the ack field is zero");
    cr_assert(syn.r.has_mss && syn.r.mss == OUR_MSS);
    cr_assert(syn.r.has_ws && syn.r.ws == 0);
    cr_assert(syn.r.sack_perm);
    cr_assert(syn.r.has_ts);
    cr_assert_eq(syn.r.ts_ecr, 0, "RFC 7323 3.2: TSecr is zero without ACK");
    cr_assert_eq(syn.r.window, TB_TCP_RING);
    cr_assert_eq(syn.len, 0);
    expect_nothing(&tb);
    cr_assert_eq(tb.n_tcp_events, 0);

    p.our_port = syn.r.src_port;
    peer_saw(&p, &syn);
    p.ts = true;
    uint32_t iss = syn.r.seq;
    peer_send(&tb, &p, TCP_SYN | TCP_ACK, NULL, 0, T0 + 30 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.at, T0 + 30 * MS, "the handshake's ACK goes at once");
    cr_assert_eq(a.r.seq, iss + 1);
    cr_assert_eq(a.r.ack, PEER_ISN + 1);
    cr_assert(a.r.has_ts);
    cr_assert_eq(a.r.ts_ecr, PEER_TS, "echo the SYN-ACK's TSval");
    cr_assert_eq(a.len, 0);
    const struct tb_tcp_event *e = last_event(&tb, c, TCP_EV_CONNECTED);
    cr_assert_not_null(e, "TCP_EV_CONNECTED");
    cr_assert_eq(count_events(&tb, NULL, TCP_EV_CONNECTED), 1);
    struct tcp_conn_info i = conn_info(c);
    cr_assert_eq(i.state, TCP_ESTABLISHED);
    cr_assert(i.sack && i.timestamps && i.window_scaling);
    cr_assert_eq(i.snd_mss, 1400 - 12, "the peer's MSS less the TS option");
    cr_assert_eq(i.snd_wnd, PEER_WINDOW, "RFC 7323 2.2: the SYN-ACK's window is never scaled");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_conn, active_open_drops_options_the_peer_did_not_answer)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 50000, PO_MSS);
    struct seg syn;
    struct tcp_conn *c = connect_at(&tb, &p, T0 + 10 * MS, &syn);
    peer_send(&tb, &p, TCP_SYN | TCP_ACK, NULL, 0, T0 + 30 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.r.seq, syn.r.seq + 1);
    cr_assert_eq(a.r.ack, PEER_ISN + 1);
    cr_assert_not(a.r.has_ts, "RFC 7323 3.2: no TS unless the SYN-ACK had it");
    cr_assert_eq(a.r.hdr_len, TCP_HDR_LEN);
    cr_assert_eq(a.r.window, TB_TCP_RING);
    struct tcp_conn_info i = conn_info(c);
    cr_assert_eq(i.state, TCP_ESTABLISHED);
    cr_assert_not(i.sack || i.timestamps || i.window_scaling);
    cr_assert_eq(i.snd_mss, PEER_MSS);
    cr_assert_eq(i.snd_wnd, PEER_WINDOW, "RFC 7323 2.2: no WS from the peer, no scaling");
    testbed_free(&tb);
}

/* ---- MSS ------------------------------------------------------------------------- */

/* `n` bytes queued with Nagle off; the segments that leave have these lengths. */
static void expect_segment_sizes(struct testbed *tb, struct tcp_conn *c, struct peer *p, size_t n,
                                 const size_t *sizes, size_t n_sizes, uint64_t at)
{
    static uint8_t data[8192];
    for (size_t k = 0; k < n; k++)
        data[k] = (uint8_t)k;
    tcp_set_nodelay(c, true);
    tb_advance(tb, at);
    cr_assert_eq(tcp_send(TCP_OF(tb), c, data, n, at), (int)n);
    uint32_t seq = p->ack;
    size_t off = 0;
    for (size_t k = 0; k < n_sizes; k++) {
        struct seg s = expect_seg(tb);
        cr_assert_eq(s.r.seq, seq, "segment %zu at seq %u, expected %u", k, s.r.seq, seq);
        cr_assert_eq(s.len, sizes[k], "segment %zu carries %zu bytes, expected %zu", k, s.len,
                     sizes[k]);
        cr_assert(memcmp(s.data, data + off, s.len) == 0);
        seq += (uint32_t)s.len;
        off += s.len;
    }
    expect_nothing(tb);
}

Test(tcp_conn, segments_never_exceed_the_peers_mss)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_MSS);
    p.mss = 536;
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    cr_assert_eq(conn_info(c).snd_mss, 536);
    static const size_t sizes[] = {536, 536, 536, 392};
    expect_segment_sizes(&tb, c, &p, 2000, sizes, 4, T0 + 20 * MS);
    testbed_free(&tb);
}

Test(tcp_conn, a_syn_without_mss_means_536)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, 0);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    static const size_t sizes[] = {536, 464};
    expect_segment_sizes(&tb, c, &p, 1000, sizes, 2, T0 + 20 * MS);
    testbed_free(&tb);
}

Test(tcp_conn, a_tiny_peer_mss_is_raised_to_64)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_MSS);
    p.mss = 8; /* would have us send a flood of 8-byte segments (Linux's floor is 48) */
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    cr_assert_eq(conn_info(c).snd_mss, 64);
    static const size_t sizes[] = {64, 36};
    expect_segment_sizes(&tb, c, &p, 100, sizes, 2, T0 + 20 * MS);
    testbed_free(&tb);
}

Test(tcp_conn, our_mss_is_mtu_minus_40_and_bounds_our_segments)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    cfg.mtu = 1000;
    tcp_start_cfg(&tb, &cfg);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_MSS);
    p.mss = 8960; /* a jumbo-frame peer: our own MTU still bounds what we send */
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(sa.r.mss, 960, "MSS announced: MTU 1000 - 40");
    peer_saw(&p, &sa);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 10 * MS);
    struct tcp_conn *c = last_event(&tb, NULL, TCP_EV_ACCEPTED)->conn;
    cr_assert_eq(conn_info(c).snd_mss, 960);
    static const size_t sizes[] = {960, 960, 80};
    expect_segment_sizes(&tb, c, &p, 2000, sizes, 3, T0 + 20 * MS);
    testbed_free(&tb);
}

/* ---- Simultaneous open (RFC 9293 figure 7) --------------------------------------- */

Test(tcp_conn, simultaneous_open_syns_cross)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 50000, PO_MSS);
    struct seg syn;
    struct tcp_conn *c = connect_at(&tb, &p, T0 + 10 * MS, &syn);
    uint32_t iss = syn.r.seq;

    /* Line 3: the peer's own SYN arrives (no ACK: it has not seen ours). */
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 20 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(sa.r.seq, iss, "line 5: SYN-ACK from the same ISS");
    cr_assert_eq(sa.r.ack, PEER_ISN + 1);
    expect_state(c, TCP_SYN_RECEIVED);
    cr_assert_eq(tb.n_tcp_events, 0);

    /* Line 6: the peer, having got our SYN, sends its SYN-ACK: we are established. */
    peer_send_seg(&tb, &p, PEER_ISN, iss + 1, TCP_SYN | TCP_ACK, PEER_WINDOW, NULL, 0,
                  T0 + 30 * MS);
    expect_state(c, TCP_ESTABLISHED);
    cr_assert_not_null(last_event(&tb, c, TCP_EV_CONNECTED), "CONNECTED after the SYN-ACK");
    skip_frames(&tb); /* an ACK here is harmless */

    /* And it works: data from the peer arrives. */
    p.ack = iss + 1;
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "hello", 5, T0 + 40 * MS);
    char buf[16];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 5);
    cr_assert(memcmp(buf, "hello", 5) == 0);
    testbed_free(&tb);
}

/* ---- Initial sequence numbers (RFC 6528) ----------------------------------------- */

Test(tcp_conn, isn_differs_per_four_tuple)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    uint32_t iss[4];
    for (int k = 0; k < 4; k++) {
        struct peer p = peer_new((uint16_t)(PEER_PORT + k), OUR_PORT, PO_MSS);
        peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
        iss[k] = expect_flags(&tb, TCP_SYN | TCP_ACK).r.seq;
    }
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++) {
            cr_assert_neq(iss[a], iss[b], "same ISN for ports %d and %d", a, b);
            /* Not a counter: neighbouring tuples are far apart. */
            uint32_t d = iss[a] - iss[b];
            cr_assert(d > 100000 && d < 0xffffffffu - 100000, "ISNs too close: %u %u", iss[a],
                      iss[b]);
        }
    testbed_free(&tb);
}

Test(tcp_conn, isn_unpredictable_across_seeds)
{
    uint32_t a1 = iss_for(1, PEER_PORT, T0 + 10 * MS);
    uint32_t a2 = iss_for(2, PEER_PORT, T0 + 10 * MS);
    uint32_t b1 = iss_for(1, PEER_PORT + 1, T0 + 10 * MS);
    uint32_t b2 = iss_for(2, PEER_PORT + 1, T0 + 10 * MS);
    cr_assert_neq(a1, a2, "another secret must give another ISN");
    cr_assert_neq(b1, b2);
    cr_assert_neq(a1 - b1, a2 - b2, "the secret must not be a mere offset");
    /* Same seed, same tuple, same time: reproducible (tests pin the seed). */
    cr_assert_eq(iss_for(1, PEER_PORT, T0 + 10 * MS), a1);
}

Test(tcp_conn, isn_advances_with_a_4us_clock)
{
    uint32_t t0 = iss_for(1, PEER_PORT, T0 + 10 * MS);
    uint32_t t1 = iss_for(1, PEER_PORT, T0 + 10 * MS + 1 * SEC);
    uint32_t t2 = iss_for(1, PEER_PORT, T0 + 10 * MS + 4 * SEC);
    cr_assert_eq(t1 - t0, 250000u, "RFC 6528: M ticks every 4 us (got %u per second)", t1 - t0);
    cr_assert_eq(t2 - t0, 1000000u);
}

/* ---- Connect failures ------------------------------------------------------------ */

Test(tcp_conn, syn_retransmitted_with_exponential_backoff_then_timeout)
{
    static const struct tcp_cfg tune = {.syn_retries = 3};
    struct testbed tb;
    struct close_log log;
    tcp_start(&tb, &tune);
    log_closes(&tb, &log);
    struct peer p = peer_new(PEER_PORT, 50000, PO_ALL);
    uint64_t t = T0 + 10 * MS;
    struct seg syn;
    struct tcp_conn *c = connect_at(&tb, &p, t, &syn);
    static const uint64_t at[] = {1 * SEC, 3 * SEC, 7 * SEC}; /* waits of 1, 2, 4 s */
    for (int k = 0; k < 3; k++) {
        tb_advance(&tb, t + at[k] - 1);
        expect_nothing(&tb);
        tb_advance(&tb, t + at[k]);
        struct seg r = expect_flags(&tb, TCP_SYN);
        cr_assert_eq(r.at, t + at[k], "retransmission %d at +%llu ms", k + 1,
                     (unsigned long long)((r.at - t) / MS));
        cr_assert_eq(r.r.seq, syn.r.seq, "a retransmitted SYN keeps its ISN");
        cr_assert(r.r.has_mss && r.r.has_ws && r.r.sack_perm && r.r.has_ts, "options on every SYN");
        expect_state(c, TCP_SYN_SENT);
    }
    tb_advance(&tb, t + 15 * SEC - 1);
    cr_assert_eq(log.n, 0);
    tb_advance(&tb, t + 15 * SEC);
    cr_assert_eq(log.n, 1, "gives up 8 s after the third retransmission");
    cr_assert_eq(log.e[0].conn, c);
    cr_assert_eq(log.e[0].reason, TCP_REASON_TIMEOUT);
    cr_assert_eq(log.e[0].at, t + 15 * SEC);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    expect_nothing(&tb); /* no RST: the peer never spoke */
    tb_advance(&tb, t + 300 * SEC);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_conn, connect_answered_by_rst_is_refused)
{
    struct testbed tb;
    struct close_log log;
    tcp_start(&tb, NULL);
    log_closes(&tb, &log);
    struct peer p = peer_new(PEER_PORT, 50000, 0);
    struct seg syn;
    struct tcp_conn *c = connect_at(&tb, &p, T0 + 10 * MS, &syn);
    /* What a closed port answers: <SEQ=0><ACK=ISS+1><CTL=RST,ACK>. */
    peer_send_raw(&tb, &p, 0, syn.r.seq + 1, TCP_RST | TCP_ACK, 0, NULL, 0, NULL, 0, T0 + 20 * MS);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.e[0].conn, c);
    cr_assert_eq(log.e[0].reason, TCP_REASON_REFUSED);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_conn, syn_sent_ignores_rst_without_acceptable_ack)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 50000, 0);
    struct seg syn;
    struct tcp_conn *c = connect_at(&tb, &p, T0 + 10 * MS, &syn);
    /* RFC 9293 3.10.7.3: a RST without ACK, or with an unacceptable one, is dropped. */
    peer_send_raw(&tb, &p, 0, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 20 * MS);
    peer_send_raw(&tb, &p, 0, syn.r.seq, TCP_RST | TCP_ACK, 0, NULL, 0, NULL, 0, T0 + 21 * MS);
    peer_send_raw(&tb, &p, 0, syn.r.seq + 2, TCP_RST | TCP_ACK, 0, NULL, 0, NULL, 0, T0 + 22 * MS);
    expect_nothing(&tb);
    expect_state(c, TCP_SYN_SENT);
    cr_assert_eq(tb.n_tcp_events, 0);
    testbed_free(&tb);
}

Test(tcp_conn, icmp_port_unreachable_while_connecting_is_unreachable)
{
    struct testbed tb;
    struct close_log log;
    tcp_start(&tb, NULL);
    log_closes(&tb, &log);
    int err;
    tb_advance(&tb, T0 + 10 * MS);
    struct tcp_conn *c = tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 50000, NULL, T0 + 10 * MS, &err);
    cr_assert_not_null(c);
    const struct fake_frame *f = tb_next(&tb);
    cr_assert_not_null(f);
    struct fake_frame copy = *f;
    struct seg syn;
    parse_seg(&copy, &syn);
    cr_assert_eq(syn.r.flags, TCP_SYN);
    send_unreachable(&tb, &copy, ICMP_UNREACH_PORT, T0 + 20 * MS);
    cr_assert_eq(log.n, 1, "the connect must fail at once");
    cr_assert_eq(log.e[0].conn, c);
    cr_assert_eq(log.e[0].reason, TCP_REASON_UNREACHABLE);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_conn, icmp_quoting_a_sequence_not_in_flight_is_ignored)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    int err;
    tb_advance(&tb, T0 + 10 * MS);
    struct tcp_conn *c = tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 50000, NULL, T0 + 10 * MS, &err);
    struct fake_frame copy = *tb_next(&tb);
    /* RFC 5927 4.1: a forged error must quote a sequence number we have in flight. */
    uint8_t *seq = copy.data + ETH_HDR_LEN + IPV4_HDR_LEN + TCP_OFF_SEQ;
    net_put32(seq, net_get32(seq) + 100000);
    send_unreachable(&tb, &copy, ICMP_UNREACH_PORT, T0 + 20 * MS);
    expect_state(c, TCP_SYN_SENT);
    cr_assert_eq(tb.n_tcp_events, 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    testbed_free(&tb);
}

/* ---- Unacceptable ACKs before synchronization ------------------------------------ */

Test(tcp_conn, syn_sent_answers_an_unacceptable_ack_with_rst)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 50000, 0);
    struct seg syn;
    struct tcp_conn *c = connect_at(&tb, &p, T0 + 10 * MS, &syn);
    uint32_t iss = syn.r.seq;
    /* RFC 9293 3.10.7.3: SEG.ACK =< ISS or > SND.NXT: <SEQ=SEG.ACK><CTL=RST>. */
    peer_send_seg(&tb, &p, PEER_ISN, iss + 1000, TCP_SYN | TCP_ACK, PEER_WINDOW, NULL, 0,
                  T0 + 20 * MS);
    struct seg r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, iss + 1000);
    cr_assert_eq(r.r.src_port, 50000);
    cr_assert_eq(r.r.dst_port, PEER_PORT);
    peer_send_seg(&tb, &p, PEER_ISN, iss, TCP_SYN | TCP_ACK, PEER_WINDOW, NULL, 0, T0 + 21 * MS);
    r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, iss);
    expect_nothing(&tb);
    expect_state(c, TCP_SYN_SENT);
    cr_assert_eq(tb.n_tcp_events, 0);

    /* The real SYN-ACK still completes the handshake. */
    peer_send_seg(&tb, &p, PEER_ISN, iss + 1, TCP_SYN | TCP_ACK, PEER_WINDOW, NULL, 0,
                  T0 + 30 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.r.ack, PEER_ISN + 1);
    expect_state(c, TCP_ESTABLISHED);
    testbed_free(&tb);
}

Test(tcp_conn, syn_received_answers_an_unacceptable_ack_with_rst)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, 0);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    uint32_t iss = sa.r.seq;
    /* RFC 9293 3.10.7.4 SYN-RECEIVED: an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>. */
    peer_send_seg(&tb, &p, PEER_ISN + 1, iss + 500, TCP_ACK, PEER_WINDOW, NULL, 0, T0 + 20 * MS);
    struct seg r = expect_flags(&tb, TCP_RST);
    cr_assert_eq(r.r.seq, iss + 500);
    cr_assert_eq(r.r.src_port, OUR_PORT);
    cr_assert_eq(r.r.dst_port, PEER_PORT);
    expect_nothing(&tb);
    cr_assert_eq(tb.n_tcp_events, 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1, "the half-open connection stays");

    peer_send_seg(&tb, &p, PEER_ISN + 1, iss + 1, TCP_ACK, PEER_WINDOW, NULL, 0, T0 + 30 * MS);
    const struct tb_tcp_event *e = last_event(&tb, NULL, TCP_EV_ACCEPTED);
    cr_assert_not_null(e, "the right ACK still completes the handshake");
    expect_state(e->conn, TCP_ESTABLISHED);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_conn, window_scale_above_14_is_taken_as_14)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_MSS | PO_WS);
    p.ws = 30;
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    peer_saw(&p, &sa);
    p.window = 3;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 20 * MS);
    struct tcp_conn *c = last_event(&tb, NULL, TCP_EV_ACCEPTED)->conn;
    cr_assert_eq(conn_info(c).snd_wnd, 3u << 14, "RFC 7323 2.3: a shift above 14 is 14");
    testbed_free(&tb);
}

Test(tcp_conn, duplicate_syn_in_syn_received_resends_the_syn_ack)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    /* Our SYN-ACK was lost; the peer sends its SYN again. */
    peer_send_seg(&tb, &p, PEER_ISN, 0, TCP_SYN, PEER_WINDOW, NULL, 0, T0 + 500 * MS);
    struct seg again = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(again.r.seq, sa.r.seq, "the same ISS");
    cr_assert_eq(again.r.ack, PEER_ISN + 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1, "no second connection");
    expect_nothing(&tb);
    peer_saw(&p, &again);
    p.ts = true;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 510 * MS);
    cr_assert_eq(count_events(&tb, NULL, TCP_EV_ACCEPTED), 1);
    testbed_free(&tb);
}

Test(tcp_conn, rst_in_syn_received_returns_to_listen)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    expect_flags(&tb, TCP_SYN | TCP_ACK);
    /* RFC 9293 3.10.7.4: a passive SYN_RECEIVED goes back to LISTEN on a RST. */
    peer_send_raw(&tb, &p, PEER_ISN + 1, 0, TCP_RST, 0, NULL, 0, NULL, 0, T0 + 20 * MS);
    expect_nothing(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    cr_assert_eq(TCP_OF(&tb)->cfg.listeners[0].half_open, 0);
    cr_assert_eq(tb.n_tcp_events, 0);
    /* The listener still listens. */
    struct peer q = peer_new(PEER_PORT + 1, OUR_PORT, PO_ALL);
    open_passive(&tb, &q, T0 + 30 * MS);
    testbed_free(&tb);
}

Test(tcp_conn, icmp_host_unreachable_is_a_soft_error)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    int err;
    tb_advance(&tb, T0 + 10 * MS);
    struct tcp_conn *c = tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 50000, NULL, T0 + 10 * MS, &err);
    struct fake_frame copy = *tb_next(&tb);
    /* RFC 1122 4.2.3.9: codes 0, 1 and 5 MUST NOT abort; the SYN is retried. */
    send_unreachable(&tb, &copy, 1, T0 + 20 * MS);
    expect_state(c, TCP_SYN_SENT);
    cr_assert_eq(tb.n_tcp_events, 0);
    tb_advance(&tb, T0 + 1010 * MS);
    expect_flags(&tb, TCP_SYN);
    testbed_free(&tb);
}

Test(tcp_conn, connect_refuses_a_four_tuple_in_use)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 50000, PO_ALL);
    open_active(&tb, &p, T0 + 10 * MS);
    int err = 0;
    cr_assert_null(tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 50000, NULL, T0 + 20 * MS, &err));
    cr_assert_eq(err, NET_EINVAL);
    expect_nothing(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    testbed_free(&tb);
}

/* ---- The handshake's last segment ------------------------------------------------- */

Test(tcp_conn, handshake_ack_carrying_data_delivers_it)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    peer_saw(&p, &sa);
    p.ts = true;
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "GET /", 5, T0 + 20 * MS);
    const struct tb_tcp_event *e = last_event(&tb, NULL, TCP_EV_ACCEPTED);
    cr_assert_not_null(e);
    struct tcp_conn *c = e->conn;
    cr_assert_not_null(last_event(&tb, c, TCP_EV_READABLE), "READABLE after ACCEPTED");
    char b[8];
    cr_assert_eq(recv_all(&tb, c, b, sizeof(b)), 5);
    cr_assert(memcmp(b, "GET /", 5) == 0);
    tb_advance(&tb, T0 + 300 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.r.seq, sa.r.seq + 1);
    cr_assert_eq(a.r.ack, PEER_ISN + 6);
    testbed_free(&tb);
}

Test(tcp_conn, handshake_ack_with_fin_goes_to_close_wait)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, T0 + 10 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    peer_saw(&p, &sa);
    p.ts = true;
    peer_send(&tb, &p, TCP_ACK | TCP_FIN, NULL, 0, T0 + 20 * MS);
    const struct tb_tcp_event *e = last_event(&tb, NULL, TCP_EV_ACCEPTED);
    cr_assert_not_null(e);
    expect_state(e->conn, TCP_CLOSE_WAIT);
    cr_assert_not_null(last_event(&tb, e->conn, TCP_EV_PEER_CLOSED));
    tb_advance(&tb, T0 + 300 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.r.seq, sa.r.seq + 1);
    cr_assert_eq(a.r.ack, PEER_ISN + 2, "the FIN is acknowledged");
    testbed_free(&tb);
}

Test(tcp_conn, retransmitted_syn_ack_is_acked_again)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 50000, PO_ALL);
    struct tcp_conn *c = open_active(&tb, &p, T0 + 10 * MS);
    /* Our ACK was lost: the peer sends its SYN-ACK again. */
    peer_send_seg(&tb, &p, PEER_ISN, p.ack, TCP_SYN | TCP_ACK, PEER_WINDOW, NULL, 0,
                  T0 + 1010 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(a.r.seq, p.ack);
    cr_assert_eq(a.r.ack, PEER_ISN + 1);
    expect_nothing(&tb);
    expect_state(c, TCP_ESTABLISHED);
    cr_assert_eq(count_events(&tb, c, TCP_EV_CONNECTED), 1, "CONNECTED once");
    testbed_free(&tb);
}

Test(tcp_conn, syn_sent_drops_a_segment_without_syn)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 50000, 0);
    struct seg syn;
    struct tcp_conn *c = connect_at(&tb, &p, T0 + 10 * MS, &syn);
    /* RFC 9293 3.10.7.3 fifth: neither SYN nor RST: drop, even with an acceptable ACK. */
    peer_send_seg(&tb, &p, PEER_ISN, syn.r.seq + 1, TCP_ACK, PEER_WINDOW, NULL, 0, T0 + 20 * MS);
    peer_send_seg(&tb, &p, PEER_ISN, syn.r.seq + 1, TCP_ACK | TCP_PSH, PEER_WINDOW, "abc", 3,
                  T0 + 21 * MS);
    expect_nothing(&tb);
    expect_state(c, TCP_SYN_SENT);
    cr_assert_eq(tb.n_tcp_events, 0);
    testbed_free(&tb);
}
