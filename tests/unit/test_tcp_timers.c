/*
 * test_tcp_timers.c — TCP's clocks: the RFC 6298 retransmission timer (initial RTO, RTT
 * estimation with and without timestamps, Karn, backoff, the retry limit, restart and
 * stop), zero-window probing (RFC 9293 3.8.6.1) and keep-alive (RFC 9293 3.8.4).
 *
 * A peer (tcp_support.h) talks to a whole node on the fake link; every segment in names
 * its time, every segment out is checked for its time, sequence number and length.
 * RTT arithmetic is done by hand in the comments, from RFC 6298 2.2 and 2.3:
 *     first sample R:  SRTT = R, RTTVAR = R/2
 *     later samples:   RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R
 *     RTO = SRTT + max(G, 4 RTTVAR), at least rto_min (200 ms by default).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_support.h"

#define MSS_TS (PEER_MSS - 12) /* payload per segment when timestamps are on */
#define NO_TS (PO_MSS | PO_WS | PO_SACK)

static uint8_t pat(uint32_t off)
{
    return (uint8_t)(off * 13u + (off >> 7) + 0x5au);
}

/* The application queues `n` pattern bytes (stream offset `off`) at `at`; all fit. */
static void app_send(struct testbed *tb, struct tcp_conn *c, uint32_t off, size_t n, uint64_t at)
{
    static uint8_t buf[65536];
    cr_assert_leq(n, sizeof(buf));
    for (size_t k = 0; k < n; k++)
        buf[k] = pat(off + (uint32_t)k);
    tb_advance(tb, at);
    int took = tcp_send(TCP_OF(tb), c, buf, n, at);
    cr_assert_eq(took, (int)n, "tcp_send took %d of %zu bytes", took, n);
}

/* The next segment the node sent is data [seq, seq + len) leaving at `at`. */
static struct seg expect_data(struct testbed *tb, uint32_t seq, size_t len, uint64_t at)
{
    struct seg s = expect_seg(tb);
    char f[9];
    cr_assert((s.r.flags & TCP_ACK) && !(s.r.flags & (TCP_SYN | TCP_FIN | TCP_RST)),
              "expected a data segment, got [%s]", flag_str(s.r.flags, f));
    cr_assert_eq(s.r.seq, seq, "data at seq %u, expected %u", s.r.seq, seq);
    cr_assert_eq(s.len, len, "segment carries %zu bytes, expected %zu", s.len, len);
    cr_assert_eq(s.at, at, "segment left at T0+%llu us, expected T0+%llu us",
                 (unsigned long long)((s.at - T0) / 1000), (unsigned long long)((at - T0) / 1000));
    return s;
}

/* Take ARP frames at the head of the node's output, the peer answering its requests:
 * conversations that last minutes outlive the ARP cache entry. */
static void skip_arp(struct testbed *tb)
{
    while (tb->link.taken < tb->link.n) {
        const struct fake_frame *f = &tb->link.frames[tb->link.taken];
        if (net_get16(f->data + ETH_OFF_TYPE) != ETH_TYPE_ARP)
            return;
        bool request = net_get16(f->data + ETH_HDR_LEN + ARP_OFF_OPER) == ARP_OP_REQUEST;
        tb_next(tb);
        if (request) {
            uint8_t buf[FAKE_LINK_FRAME_MAX];
            size_t n = fr_arp(buf, &mac_us, ARP_OP_REPLY, &fr_mac_peer, PEER, &mac_us, US);
            tb_send(tb, buf, n, tb->now);
        }
    }
}

/* Nothing (but ARP) leaves before `at`; the clock then stands at `at`, its timers run. */
static void quiet_until(struct testbed *tb, uint64_t at)
{
    tb_advance(tb, at - 1);
    skip_arp(tb);
    expect_nothing(tb);
    tb_advance(tb, at);
    skip_arp(tb);
}

static void peer_ack(struct testbed *tb, struct peer *p, uint64_t at)
{
    peer_send(tb, p, TCP_ACK, NULL, 0, at);
}

/* Passive open whose handshake takes `rtt`: SYN and SYN-ACK at `at`, the ACK at
 * `at + rtt`. That ACK gives the first RTT sample. */
static struct tcp_conn *open_rtt(struct testbed *tb, struct peer *p, uint64_t at, uint64_t rtt)
{
    cr_assert_eq(tcp_listen(TCP_OF(tb), p->our_port, 8, NULL), NET_OK);
    peer_send(tb, p, TCP_SYN, NULL, 0, at);
    struct seg sa = expect_flags(tb, TCP_SYN | TCP_ACK);
    p->ts = (p->syn_opts & PO_TS) && sa.r.has_ts;
    peer_saw(p, &sa);
    peer_ack(tb, p, at + rtt);
    const struct tb_tcp_event *e = last_event(tb, NULL, TCP_EV_ACCEPTED);
    cr_assert_not_null(e, "handshake did not complete");
    expect_state(e->conn, TCP_ESTABLISHED);
    expect_nothing(tb);
    return e->conn;
}

static void expect_rtt(const struct tcp_conn *c, uint64_t srtt, uint64_t rto)
{
    struct tcp_conn_info i = conn_info(c);
    cr_assert_eq(i.srtt_ns, srtt, "SRTT %llu ns, expected %llu", (unsigned long long)i.srtt_ns,
                 (unsigned long long)srtt);
    cr_assert_eq(i.rto_ns, rto, "RTO %llu ns, expected %llu", (unsigned long long)i.rto_ns,
                 (unsigned long long)rto);
}

/* ---- RFC 6298: the retransmission timer ------------------------------------------ */

Test(tcp_timer, rto_starts_at_one_second)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    uint64_t t = T0 + 10 * MS;
    tb_advance(&tb, t);
    int err;
    struct tcp_conn *c = tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 50000, NULL, t, &err);
    cr_assert_not_null(c);
    expect_rtt(c, 0, 1 * SEC); /* 2.1: no sample yet, RTO = 1 s */
    struct seg syn = expect_flags(&tb, TCP_SYN);
    quiet_until(&tb, t + 1 * SEC);
    struct seg again = expect_flags(&tb, TCP_SYN);
    cr_assert_eq(again.at, t + 1 * SEC, "SYN retransmitted 1 s after it left");
    cr_assert_eq(again.r.seq, syn.r.seq);

    /* Passive side: an unanswered SYN-ACK goes again after 1 s too. */
    struct peer p = peer_new(PEER_PORT + 1, OUR_PORT, PO_MSS);
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, t + 1500 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    quiet_until(&tb, t + 2500 * MS);
    struct seg sa2 = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(sa2.r.seq, sa.r.seq);
    cr_assert_eq(sa2.at, t + 2500 * MS);
    testbed_free(&tb);
}

Test(tcp_timer, rto_is_three_seconds_after_a_retransmitted_syn)
{
    /* RFC 6298 5.7: the SYN timed out and no RTT sample came from the handshake, so the
     * RTO MUST be 3 s when data transmission begins. */
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, 50000, NO_TS);
    uint64_t t = T0 + 10 * MS;
    tb_advance(&tb, t);
    int err;
    struct tcp_conn *c = tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 50000, NULL, t, &err);
    cr_assert_not_null(c);
    struct seg syn = expect_flags(&tb, TCP_SYN);
    peer_saw(&p, &syn);
    quiet_until(&tb, t + 1 * SEC);
    expect_flags(&tb, TCP_SYN);
    peer_send(&tb, &p, TCP_SYN | TCP_ACK, NULL, 0, t + 1200 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    peer_saw(&p, &a);
    expect_state(c, TCP_ESTABLISHED);

    app_send(&tb, c, 0, 100, t + 2 * SEC);
    expect_data(&tb, p.ack, 100, t + 2 * SEC);
    cr_assert_eq(conn_info(c).rto_ns, 3 * SEC,
                 "RFC 6298 5.7: RTO must be re-initialized to 3 s, it is %llu ms",
                 (unsigned long long)(conn_info(c).rto_ns / MS));
    quiet_until(&tb, t + 5 * SEC);
    expect_data(&tb, p.ack, 100, t + 5 * SEC);
    testbed_free(&tb);
}

Test(tcp_timer, rto_is_three_seconds_after_a_retransmitted_syn_ack)
{
    /* RFC 6298 5.7 on the passive side: the SYN-ACK timed out, the handshake gave no
     * sample (no timestamps, Karn), so data starts with an RTO of 3 s. */
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, NO_TS);
    uint64_t t = T0 + 10 * MS;
    cr_assert_eq(tcp_listen(TCP_OF(&tb), OUR_PORT, 8, NULL), NET_OK);
    peer_send(&tb, &p, TCP_SYN, NULL, 0, t);
    expect_flags(&tb, TCP_SYN | TCP_ACK);
    quiet_until(&tb, t + 1 * SEC);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    peer_saw(&p, &sa);
    peer_ack(&tb, &p, t + 1200 * MS);
    struct tcp_conn *c = last_event(&tb, NULL, TCP_EV_ACCEPTED)->conn;
    expect_state(c, TCP_ESTABLISHED);
    expect_rtt(c, 0, 3 * SEC);
    app_send(&tb, c, 0, 100, t + 2 * SEC);
    expect_data(&tb, p.ack, 100, t + 2 * SEC);
    quiet_until(&tb, t + 5 * SEC);
    expect_data(&tb, p.ack, 100, t + 5 * SEC);
    testbed_free(&tb);
}

Test(tcp_timer, rtt_estimate_from_a_timed_segment_without_timestamps)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, NO_TS);
    uint64_t t = T0 + 10 * MS;
    struct tcp_conn *c = open_rtt(&tb, &p, t, 100 * MS);
    /* First sample 100 ms: SRTT 100, RTTVAR 50, RTO 100 + 200 = 300 ms. */
    expect_rtt(c, 100 * MS, 300 * MS);

    uint64_t t1 = t + 200 * MS;
    app_send(&tb, c, 0, 1000, t1);
    struct seg d = expect_data(&tb, p.ack, 1000, t1);
    peer_saw(&p, &d);
    peer_ack(&tb, &p, t1 + 20 * MS);
    /* R = 20: RTTVAR = (3*50 + 80)/4 = 57.5, SRTT = (7*100 + 20)/8 = 90,
     * RTO = 90 + 4*57.5 = 320 ms. */
    expect_rtt(c, 90 * MS, 320 * MS);
    expect_nothing(&tb);

    /* And the timer runs on that RTO. */
    uint64_t t2 = t1 + 100 * MS;
    app_send(&tb, c, 1000, 500, t2);
    expect_data(&tb, p.ack, 500, t2);
    quiet_until(&tb, t2 + 320 * MS);
    expect_data(&tb, p.ack, 500, t2 + 320 * MS);
    testbed_free(&tb);
}

Test(tcp_timer, rto_is_at_least_rto_min)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, NO_TS);
    uint64_t t = T0 + 10 * MS;
    struct tcp_conn *c = open_rtt(&tb, &p, t, 10 * MS);
    /* SRTT 10, RTTVAR 5: 10 + 20 = 30 ms, raised to the 200 ms floor. */
    expect_rtt(c, 10 * MS, 200 * MS);
    app_send(&tb, c, 0, 100, t + 50 * MS);
    expect_data(&tb, p.ack, 100, t + 50 * MS);
    quiet_until(&tb, t + 250 * MS);
    expect_data(&tb, p.ack, 100, t + 250 * MS);
    testbed_free(&tb);
}

Test(tcp_timer, rto_is_at_most_rto_max)
{
    static const struct tcp_cfg tune = {.rto_max_ns = 2 * SEC};
    struct testbed tb;
    tcp_start(&tb, &tune);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, NO_TS);
    uint64_t t = T0 + 10 * MS;
    struct tcp_conn *c = open_rtt(&tb, &p, t, 900 * MS);
    /* SRTT 900, RTTVAR 450: 900 + 1800 = 2700 ms, lowered to the 2 s ceiling. */
    expect_rtt(c, 900 * MS, 2 * SEC);
    testbed_free(&tb);
}

Test(tcp_timer, rtt_estimate_from_timestamp_echo)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    uint64_t t = T0 + 10 * MS;
    struct tcp_conn *c = open_rtt(&tb, &p, t, 100 * MS);
    cr_assert(conn_info(c).timestamps);
    expect_rtt(c, 100 * MS, 300 * MS); /* the ACK echoed the SYN-ACK's TSval */

    uint64_t t1 = t + 200 * MS;
    app_send(&tb, c, 0, 1000, t1);
    struct seg d = expect_data(&tb, p.ack, 1000, t1);
    cr_assert(d.r.has_ts);
    peer_saw(&p, &d); /* echoes d's TSval */
    peer_ack(&tb, &p, t1 + 60 * MS);
    /* R = 60: RTTVAR = (150 + 40)/4 = 47.5, SRTT = (700 + 60)/8 = 95, RTO = 95 + 190. */
    expect_rtt(c, 95 * MS, 285 * MS);
    testbed_free(&tb);
}

Test(tcp_timer, timestamps_time_even_a_retransmission)
{
    /* RFC 7323 4.1 / RFC 6298 3: with timestamps the echo says which transmission is
     * acknowledged, so Karn's ambiguity does not arise. */
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    uint64_t t = T0 + 10 * MS;
    struct tcp_conn *c = open_rtt(&tb, &p, t, 100 * MS);
    uint64_t t1 = t + 200 * MS;
    app_send(&tb, c, 0, 1000, t1);
    struct seg d = expect_data(&tb, p.ack, 1000, t1);
    quiet_until(&tb, t1 + 300 * MS);
    struct seg r = expect_data(&tb, d.r.seq, 1000, t1 + 300 * MS);
    cr_assert_eq(r.r.ts_val - d.r.ts_val, 300, "TSval counts milliseconds");
    expect_rtt(c, 100 * MS, 600 * MS);
    peer_saw(&p, &r);
    peer_ack(&tb, &p, t1 + 330 * MS);
    /* R = 30: RTTVAR = (150 + 70)/4 = 55, SRTT = (700 + 30)/8 = 91.25,
     * RTO = 91.25 + 220 = 311.25 ms. */
    expect_rtt(c, 91250 * 1000, 311250 * 1000);
    testbed_free(&tb);
}

Test(tcp_timer, karn_no_sample_from_a_retransmitted_segment)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, NO_TS);
    uint64_t t = T0 + 10 * MS;
    struct tcp_conn *c = open_rtt(&tb, &p, t, 100 * MS);
    uint64_t t1 = t + 200 * MS;
    app_send(&tb, c, 0, 1000, t1);
    struct seg d = expect_data(&tb, p.ack, 1000, t1);
    quiet_until(&tb, t1 + 300 * MS);
    expect_data(&tb, d.r.seq, 1000, t1 + 300 * MS);
    expect_rtt(c, 100 * MS, 600 * MS); /* 5.5: backed off */
    peer_saw(&p, &d);
    peer_ack(&tb, &p, t1 + 310 * MS);
    /* 310 ms or 10 ms? Nobody can tell: no sample, and the backed-off RTO stays. */
    expect_rtt(c, 100 * MS, 600 * MS);

    /* New data is timed again. */
    uint64_t t2 = t1 + 400 * MS;
    app_send(&tb, c, 1000, 1000, t2);
    struct seg e = expect_data(&tb, p.ack, 1000, t2);
    peer_saw(&p, &e);
    peer_ack(&tb, &p, t2 + 50 * MS);
    /* R = 50: RTTVAR = (150 + 50)/4 = 50, SRTT = (700 + 50)/8 = 93.75, RTO = 293.75. */
    expect_rtt(c, 93750 * 1000, 293750 * 1000);
    testbed_free(&tb);
}

Test(tcp_timer, rto_doubles_on_each_expiry_up_to_rto_max)
{
    static const struct tcp_cfg tune = {.rto_max_ns = 2 * SEC, .max_retries = 10};
    struct testbed tb;
    tcp_start(&tb, &tune);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    cr_assert_eq(conn_info(c).rto_ns, 200 * MS, "a near-zero handshake RTT gives rto_min");
    uint64_t t1 = T0 + 100 * MS;
    app_send(&tb, c, 0, 700, t1);
    struct seg d = expect_data(&tb, p.ack, 700, t1);
    static const uint64_t wait[] = {200, 400, 800, 1600, 2000, 2000, 2000};
    uint64_t at = t1;
    for (size_t k = 0; k < sizeof(wait) / sizeof(wait[0]); k++) {
        at += wait[k] * MS;
        quiet_until(&tb, at);
        expect_data(&tb, d.r.seq, 700, at);
        uint64_t next = k + 1 < sizeof(wait) / sizeof(wait[0]) ? wait[k + 1] : 2000;
        cr_assert_eq(conn_info(c).rto_ns, next * MS, "after expiry %zu RTO is %llu ms", k + 1,
                     (unsigned long long)(conn_info(c).rto_ns / MS));
    }
    expect_state(c, TCP_ESTABLISHED);
    testbed_free(&tb);
}

Test(tcp_timer, a_peer_that_never_acks_is_aborted_after_the_retry_limit)
{
    static const struct tcp_cfg tune = {.max_retries = 3};
    struct testbed tb;
    struct close_log log;
    tcp_start(&tb, &tune);
    log_closes(&tb, &log);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    uint64_t t1 = T0 + 100 * MS;
    app_send(&tb, c, 0, 300, t1);
    struct seg d = expect_data(&tb, p.ack, 300, t1);
    static const uint64_t at[] = {200, 600, 1400};
    for (size_t k = 0; k < 3; k++) {
        quiet_until(&tb, t1 + at[k] * MS);
        expect_data(&tb, d.r.seq, 300, t1 + at[k] * MS);
        cr_assert_eq(log.n, 0);
    }
    /* The third retransmission's timer (1.6 s) expires: the retry limit is reached. */
    quiet_until(&tb, t1 + 3000 * MS);
    cr_assert_eq(log.n, 1, "no TCP_EV_CLOSED after the retry limit");
    cr_assert_eq(log.e[0].conn, c);
    cr_assert_eq(log.e[0].reason, TCP_REASON_TIMEOUT);
    cr_assert_eq(log.e[0].at, t1 + 3000 * MS);
    cr_assert_eq(TCP_OF(&tb)->stats.timeouts, 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0, "the slot must return to the table");
    tb_advance(&tb, t1 + 600 * SEC);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_timer, timer_restarts_when_an_ack_brings_news)
{
    /* RFC 6298 5.3: an ACK for new data restarts the timer for the rest. */
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    tcp_set_nodelay(c, true);
    uint64_t t1 = T0 + 100 * MS;
    app_send(&tb, c, 0, 2 * MSS_TS, t1);
    struct seg a = expect_data(&tb, p.ack, MSS_TS, t1);
    struct seg b = expect_data(&tb, a.r.seq + MSS_TS, MSS_TS, t1);
    peer_saw(&p, &a);
    peer_ack(&tb, &p, t1 + 150 * MS);
    cr_assert_eq(conn_info(c).rto_ns, 200 * MS);
    quiet_until(&tb, t1 + 350 * MS); /* not at t1 + 200 ms */
    expect_data(&tb, b.r.seq, MSS_TS, t1 + 350 * MS);
    testbed_free(&tb);
}

Test(tcp_timer, timer_stops_when_everything_is_acknowledged)
{
    /* RFC 6298 5.2. */
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    uint64_t t1 = T0 + 100 * MS;
    app_send(&tb, c, 0, 500, t1);
    struct seg d = expect_data(&tb, p.ack, 500, t1);
    peer_saw(&p, &d);
    peer_ack(&tb, &p, t1 + 50 * MS);
    tb_advance(&tb, t1 + 600 * SEC);
    expect_nothing(&tb);
    expect_state(c, TCP_ESTABLISHED);
    cr_assert_eq(conn_info(c).retransmits, 0);
    cr_assert_eq(TCP_OF(&tb)->stats.retransmits, 0);
    testbed_free(&tb);
}

/* ---- Zero window: persist timer (RFC 9293 3.8.6.1) ------------------------------- */

/* A zero-window probe: either an old byte (SND.UNA - 1, no data, as Linux sends it) or
 * one new byte at SND.UNA. */
static void expect_probe(struct testbed *tb, uint32_t una, uint32_t rcv_nxt, uint64_t at)
{
    struct seg s = expect_seg(tb);
    char f[9];
    cr_assert_eq(s.r.flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_ACK), TCP_ACK,
                 "a probe is a plain ACK segment, got [%s]", flag_str(s.r.flags, f));
    cr_assert((s.r.seq == una - 1 && s.len == 0) || (s.r.seq == una && s.len == 1),
              "probe at seq %u with %zu bytes (SND.UNA %u)", s.r.seq, s.len, una);
    cr_assert_eq(s.r.ack, rcv_nxt);
    cr_assert_eq(s.at, at, "probe at T0+%llu ms, expected T0+%llu ms",
                 (unsigned long long)((s.at - T0) / MS), (unsigned long long)((at - T0) / MS));
}

/* Connection with 3000 bytes waiting behind a window the peer closed at `t`. */
static struct tcp_conn *closed_window(struct testbed *tb, struct peer *p, uint64_t t)
{
    struct tcp_conn *c = open_passive(tb, p, T0 + 10 * MS);
    cr_assert_eq(conn_info(c).rto_ns, 200 * MS);
    p->window = 0;
    peer_ack(tb, p, t);
    cr_assert_eq(conn_info(c).snd_wnd, 0);
    app_send(tb, c, 0, 3000, t);
    expect_nothing(tb); /* nothing may go into a zero window */
    return c;
}

Test(tcp_timer, zero_window_is_probed_with_backoff_until_it_opens)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    uint64_t t = T0 + 100 * MS;
    struct tcp_conn *c = closed_window(&tb, &p, t);
    uint32_t una = p.ack;
    static const uint64_t at[] = {200, 600, 1400, 3000, 6200};
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        quiet_until(&tb, t + at[k] * MS);
        expect_probe(&tb, una, p.seq, t + at[k] * MS);
        peer_ack(&tb, &p, t + at[k] * MS + 1 * MS); /* still zero */
        expect_nothing(&tb);
    }
    cr_assert_geq(TCP_OF(&tb)->stats.zero_window_probes, 5);
    /* The window opens: the data goes at once, from SND.UNA. */
    p.window = 100;
    uint64_t open_at = t + 7 * SEC;
    peer_ack(&tb, &p, open_at);
    struct seg d = expect_data(&tb, una, MSS_TS, open_at);
    cr_assert_eq(d.data[0], pat(0));
    struct seg e = expect_data(&tb, una + MSS_TS, MSS_TS, open_at);
    expect_nothing(&tb); /* Nagle holds the 104-byte tail while data is in flight */
    cr_assert_eq(conn_info(c).in_flight, 2 * MSS_TS);
    peer_saw(&p, &e);
    peer_ack(&tb, &p, open_at + 10 * MS);
    expect_data(&tb, una + 2 * MSS_TS, 3000 - 2 * MSS_TS, open_at + 10 * MS);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_timer, probe_backoff_starts_over_once_the_window_has_opened)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    uint64_t t = T0 + 100 * MS;
    struct tcp_conn *c = closed_window(&tb, &p, t);
    uint32_t una = p.ack;
    static const uint64_t at[] = {200, 600, 1400};
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        quiet_until(&tb, t + at[k] * MS);
        expect_probe(&tb, una, p.seq, t + at[k] * MS);
        peer_ack(&tb, &p, t + at[k] * MS + 1 * MS);
    }
    /* The window opens, two segments are taken (Nagle holds the tail); it shuts again. */
    uint64_t open_at = t + 2 * SEC;
    p.window = PEER_WINDOW;
    peer_ack(&tb, &p, open_at);
    expect_data(&tb, una, MSS_TS, open_at);
    struct seg d = expect_data(&tb, una + MSS_TS, MSS_TS, open_at);
    expect_nothing(&tb);
    peer_saw(&p, &d);
    p.window = 0;
    peer_ack(&tb, &p, open_at + 10 * MS);
    expect_nothing(&tb);
    /* A new closed window: probing backs off again from one RTO, not from 1.6 s. */
    quiet_until(&tb, open_at + 210 * MS);
    expect_probe(&tb, p.ack, p.seq, open_at + 210 * MS);
    peer_ack(&tb, &p, open_at + 211 * MS);
    quiet_until(&tb, open_at + 610 * MS);
    expect_probe(&tb, p.ack, p.seq, open_at + 610 * MS);
    expect_state(c, TCP_ESTABLISHED);
    testbed_free(&tb);
}

Test(tcp_timer, zero_window_peer_that_answers_probes_stays_connected)
{
    static const struct tcp_cfg tune = {.max_retries = 3, .rto_max_ns = 2 * SEC};
    struct testbed tb;
    struct close_log log;
    tcp_start(&tb, &tune);
    log_closes(&tb, &log);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    uint64_t t = T0 + 100 * MS;
    struct tcp_conn *c = closed_window(&tb, &p, t);
    uint32_t una = p.ack;
    /* Far more probes than max_retries, each answered with a zero window. */
    size_t probes = 0;
    for (uint64_t now = t; now < t + 120 * SEC && probes < 20; now += 100 * MS) {
        tb_advance(&tb, now);
        if (!fake_link_pending(&tb.link))
            continue;
        struct seg s = expect_seg(&tb);
        cr_assert((s.r.seq == una - 1 && s.len == 0) || (s.r.seq == una && s.len == 1),
                  "only probes may go into a zero window");
        probes++;
        peer_ack(&tb, &p, now + 1 * MS);
    }
    cr_assert_eq(probes, 20, "probing stopped after %zu probes", probes);
    cr_assert_eq(log.n, 0, "a peer that answers its probes must not be dropped");
    expect_state(c, TCP_ESTABLISHED);
    testbed_free(&tb);
}

Test(tcp_timer, a_closed_connection_behind_a_zero_window_is_freed_though_probes_are_answered)
{
    /* Nobody waits for a closed connection: as Linux's tcp_orphan_retries, at most 8
     * probes, answered or not (max_retries, 15 by default, is for attached ones). */
    static const struct tcp_cfg tune = {.rto_max_ns = 2 * SEC};
    struct testbed tb;
    tcp_start(&tb, &tune);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    uint64_t t = T0 + 100 * MS;
    struct tcp_conn *c = closed_window(&tb, &p, t);
    uint32_t una = p.ack;
    tb_advance(&tb, t + 10 * MS);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, t + 10 * MS), NET_OK);
    expect_nothing(&tb); /* the FIN waits behind the data */
    size_t probes = 0;
    for (uint64_t now = t; now < t + 600 * SEC && tcp_conns_in_use(TCP_OF(&tb)); now += 100 * MS) {
        tb_advance(&tb, now);
        skip_arp(&tb);
        while (fake_link_pending(&tb.link)) {
            struct seg s = expect_seg(&tb);
            if (s.r.flags & TCP_RST)
                continue;
            cr_assert((s.r.seq == una - 1 && s.len == 0) || (s.r.seq == una && s.len == 1),
                      "only probes may go into a zero window");
            probes++;
            peer_ack(&tb, &p, now + 1 * MS);
            skip_arp(&tb);
        }
    }
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0, "probed %zu times and still held", probes);
    cr_assert_eq(probes, 8, "%zu probes", probes);
    cr_assert_eq(TCP_OF(&tb)->stats.timeouts, 1);
    testbed_free(&tb);
}

Test(tcp_timer, zero_window_peer_that_stops_answering_is_aborted)
{
    static const struct tcp_cfg tune = {.max_retries = 3, .rto_max_ns = 2 * SEC};
    struct testbed tb;
    struct close_log log;
    tcp_start(&tb, &tune);
    log_closes(&tb, &log);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    uint64_t t = T0 + 100 * MS;
    struct tcp_conn *c = closed_window(&tb, &p, t);
    uint32_t una = p.ack;
    size_t probes = 0;
    for (uint64_t now = t; now < t + 120 * SEC && !log.n; now += 10 * MS) {
        tb_advance(&tb, now);
        while (fake_link_pending(&tb.link)) {
            struct seg s = expect_seg(&tb);
            cr_assert((s.r.seq == una - 1 && s.len == 0) || (s.r.seq == una && s.len == 1),
                      "only probes may go into a zero window");
            probes++;
        }
    }
    cr_assert_eq(log.n, 1, "a silent peer behind a zero window is never dropped");
    cr_assert_eq(log.e[0].conn, c);
    cr_assert_eq(log.e[0].reason, TCP_REASON_TIMEOUT);
    cr_assert_geq(probes, 1);
    cr_assert_leq(probes, 4, "%zu unanswered probes with max_retries 3", probes);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    testbed_free(&tb);
}

Test(tcp_timer, a_window_closed_on_data_in_flight_is_probed_not_timed_out)
{
    /* RFC 1122 4.2.2.17: no abort for a zero window while the peer answers the probes;
     * 4.2.2.16: nor for data beyond a shrunken edge going unacknowledged. */
    static const struct tcp_cfg tune = {.max_retries = 3, .rto_max_ns = 2 * SEC};
    struct testbed tb;
    struct close_log log;
    tcp_start(&tb, &tune);
    log_closes(&tb, &log);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    uint32_t base = p.ack;
    uint64_t t1 = T0 + 100 * MS;
    app_send(&tb, c, 0, 5000, t1);
    struct seg s1 = expect_data(&tb, base, MSS_TS, t1);
    expect_data(&tb, base + MSS_TS, MSS_TS, t1);
    struct seg s3 = expect_data(&tb, base + 2 * MSS_TS, MSS_TS, t1);
    expect_nothing(&tb);
    uint32_t old_end = s3.r.seq + MSS_TS;
    /* S1 arrives and the buffer is full: S2 and S3 lie beyond a zero window. */
    peer_saw(&p, &s1);
    p.window = 0;
    peer_ack(&tb, &p, t1 + 20 * MS);
    for (uint64_t now = t1 + 30 * MS; now < t1 + 60 * SEC; now += 10 * MS) {
        tb_advance(&tb, now);
        skip_arp(&tb);
        while (fake_link_pending(&tb.link)) {
            struct seg s = expect_seg(&tb);
            cr_assert((int32_t)(s.r.seq + s.len - old_end) <= 0,
                      "new data sent into a zero window");
            peer_ack(&tb, &p, now + 1 * MS);
            skip_arp(&tb);
        }
    }
    cr_assert_eq(log.n, 0, "aborted while the peer answered every probe");
    expect_state(c, TCP_ESTABLISHED);
    cr_assert_geq(TCP_OF(&tb)->stats.zero_window_probes, 10);
    /* The window opens: transmission resumes from SND.UNA. */
    p.window = PEER_WINDOW;
    uint64_t at = t1 + 61 * SEC;
    peer_ack(&tb, &p, at);
    skip_arp(&tb);
    expect_data(&tb, base + MSS_TS, MSS_TS, at);
    testbed_free(&tb);
}

/* ---- Keep-alive (RFC 9293 3.8.4, RFC 1122 4.2.3.6) ------------------------------- */

static const struct tcp_cfg keep_tune = {
    .keepalive_idle_ns = 10 * SEC, .keepalive_interval_ns = 1 * SEC, .keepalive_probes = 3};

Test(tcp_timer, keepalive_is_off_by_default)
{
    struct testbed tb;
    tcp_start(&tb, &keep_tune);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    tb_advance(&tb, T0 + 3 * 3600 * SEC);
    expect_nothing(&tb);
    expect_state(c, TCP_ESTABLISHED);
    cr_assert_eq(TCP_OF(&tb)->stats.keepalive_probes, 0);
    testbed_free(&tb);
}

Test(tcp_timer, keepalive_probe_after_idle_and_answers_keep_the_connection)
{
    struct testbed tb;
    tcp_start(&tb, &keep_tune);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    uint64_t t = T0 + 10 * MS;
    struct tcp_conn *c = open_passive(&tb, &p, t);
    tcp_set_keepalive(TCP_OF(&tb), c, true, t);
    /* Traffic from the peer restarts the idle time. */
    peer_send(&tb, &p, TCP_ACK | TCP_PSH, "ping", 4, t + 5 * SEC);
    char buf[8];
    cr_assert_eq(recv_all(&tb, c, buf, sizeof(buf)), 4);
    tb_advance(&tb, t + 5 * SEC + 40 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK); /* the delayed ACK */
    cr_assert_eq(a.r.ack, p.seq);
    uint64_t last = t + 5 * SEC;
    for (int k = 0; k < 4; k++) {
        quiet_until(&tb, last + 10 * SEC);
        struct seg s = expect_flags(&tb, TCP_ACK);
        cr_assert_eq(s.at, last + 10 * SEC, "probe %d after 10 s idle", k);
        cr_assert_eq(s.r.seq, p.ack - 1, "a keep-alive probe carries SND.UNA - 1");
        cr_assert_eq(s.r.ack, p.seq);
        cr_assert_eq(s.len, 0);
        last = s.at + 20 * MS;
        peer_ack(&tb, &p, last); /* the peer answers */
        skip_arp(&tb);
        expect_nothing(&tb);
    }
    expect_state(c, TCP_ESTABLISHED);
    cr_assert_eq(TCP_OF(&tb)->stats.keepalive_probes, 4);
    testbed_free(&tb);
}

Test(tcp_timer, keepalive_turned_on_while_connecting_starts_once_established)
{
    struct testbed tb;
    tcp_start(&tb, &keep_tune);
    struct peer p = peer_new(PEER_PORT, 50000, PO_ALL);
    uint64_t t = T0 + 10 * MS;
    tb_advance(&tb, t);
    struct tcp_conn *c = tcp_connect(TCP_OF(&tb), PEER, PEER_PORT, 50000, NULL, t, NULL);
    cr_assert_not_null(c);
    tcp_set_keepalive(TCP_OF(&tb), c, true, t);
    struct seg syn = expect_flags(&tb, TCP_SYN);
    peer_saw(&p, &syn);
    p.ts = true;
    peer_send(&tb, &p, TCP_SYN | TCP_ACK, NULL, 0, t + 5 * MS);
    struct seg a = expect_flags(&tb, TCP_ACK);
    peer_saw(&p, &a);
    expect_state(c, TCP_ESTABLISHED);
    quiet_until(&tb, t + 5 * MS + 10 * SEC);
    struct seg s = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(s.r.seq, p.ack - 1, "a keep-alive probe 10 s after the handshake");
    cr_assert_eq(TCP_OF(&tb)->stats.keepalive_probes, 1);
    testbed_free(&tb);
}

Test(tcp_timer, keepalive_unanswered_probes_abort_with_timeout)
{
    struct testbed tb;
    struct close_log log;
    tcp_start(&tb, &keep_tune);
    log_closes(&tb, &log);
    struct peer p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    uint64_t t = T0 + 10 * MS;
    struct tcp_conn *c = open_passive(&tb, &p, t);
    tcp_set_keepalive(TCP_OF(&tb), c, true, t);
    for (int k = 0; k < 3; k++) {
        uint64_t at = t + 10 * SEC + (uint64_t)k * SEC;
        quiet_until(&tb, at);
        struct seg s = expect_flags(&tb, TCP_ACK);
        cr_assert_eq(s.r.seq, p.ack - 1);
        cr_assert_eq(s.len, 0);
        cr_assert_eq(s.at, at, "probe %d at idle + %d s", k + 1, k);
        cr_assert_eq(log.n, 0);
    }
    tb_advance(&tb, t + 13 * SEC);
    cr_assert_eq(log.n, 1, "three unanswered probes must end the connection");
    cr_assert_eq(log.e[0].conn, c);
    cr_assert_eq(log.e[0].reason, TCP_REASON_TIMEOUT);
    cr_assert_eq(log.e[0].at, t + 13 * SEC);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    /* A RST is allowed (Linux sends one), nothing else. */
    if (fake_link_pending(&tb.link))
        cr_assert(expect_seg(&tb).r.flags & TCP_RST, "only a RST may follow the abort");
    tb_advance(&tb, t + 3600 * SEC);
    expect_nothing(&tb);
    testbed_free(&tb);
}

/* ---- The timer walk visits open connections only, whatever callbacks do meanwhile ---- */

struct walk_rig {
    struct tcp tcp;
    struct tcp_conn *victim; /* aborted by the callback when the first one times out */
    unsigned closed, sent;
};

static int walk_send(void *ctx, const struct ipv4_tx *tx, const struct net_iov *iov, size_t n,
                     uint64_t now)
{
    (void)tx, (void)iov, (void)n, (void)now;
    ((struct walk_rig *)ctx)->sent++; /* every SYN vanishes: nobody answers */
    return 0;
}

static void walk_event(void *ctx, struct tcp_conn *c, enum tcp_event ev, void *user)
{
    (void)user;
    struct walk_rig *r = ctx;
    if (ev != TCP_EV_CLOSED)
        return;
    r->closed++;
    if (r->victim && r->victim != c) {
        struct tcp_conn *v = r->victim;
        r->victim = NULL;
        tcp_abort(&r->tcp, v, 0); /* the connection the walk would visit next */
    }
}

Test(tcp_timer, a_callback_that_frees_the_next_connection_does_not_derail_the_timer_walk)
{
    static struct walk_rig r;
    static uint8_t mem[TCP_MEM(16, 4096, 4096)];
    static const struct tcp_ops ops = {.send = walk_send, .event = walk_event};
    struct tcp_cfg cfg = {.addr = US, .seed = 7, .mss = 1460, .mem = mem,
                          .mem_len = sizeof(mem), .n_conns = 16, .rx_size = 4096,
                          .tx_size = 4096, .syn_retries = 1};
    cr_assert_eq(tcp_init(&r.tcp, &cfg, &ops, &r, 0), NET_OK);
    struct tcp_conn *c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = tcp_connect(&r.tcp, PEER, 80, (uint16_t)(5000 + i), NULL, 0, NULL);
        cr_assert_not_null(c[i]);
    }
    /* Opened last, visited first: c[3] times out first and its callback aborts c[2]. */
    r.victim = c[2];
    uint64_t now = 0;
    for (int round = 0; round < 10 && r.tcp.n_used; round++) {
        now = tcp_next_deadline(&r.tcp);
        cr_assert_neq(now, UINT64_MAX, "open connections with no timer: %u", r.tcp.n_used);
        tcp_poll(&r.tcp, now);
    }
    cr_assert_eq(r.tcp.n_used, 0, "every connection timed out or was aborted");
    cr_assert_eq(r.closed, 3, "three timed out; the aborted one gets no event (a verb)");
    cr_assert_eq(r.tcp.live_head, 0, "nothing left linked");
    cr_assert_eq(r.tcp.walk_next, 0);
    cr_assert_eq(tcp_next_deadline(&r.tcp), UINT64_MAX);
}
