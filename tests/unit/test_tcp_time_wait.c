/*
 * test_tcp_time_wait.c — TIME_WAIT of a connection the application has closed (tcp_tw.c):
 * the slot is free as soon as the last ACK is out, and a record answers the peer for
 * 2*MSL as the connection would have: the re-ACK of a retransmitted FIN (restarting
 * 2*MSL), RFC 6191 reopening, RFC 5961 and PAWS checks, and a full ring of records ending
 * the oldest first.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_support.h"

#define MSL (1 * SEC)
static const struct tcp_cfg fast = {.msl_ns = MSL};

static struct tcp_conn *setup(struct testbed *tb, struct peer *p, uint8_t opts,
                              const struct tcp_cfg *tune)
{
    tcp_start(tb, tune);
    *p = peer_new(PEER_PORT, OUR_PORT, opts);
    return open_passive(tb, p, T0 + 10 * MS);
}

/* Close `c` and let the peer acknowledge and close at once: TIME_WAIT at `at` + 1 ms, in
 * a record, the slot back in the table. Returns the connection's last ACK. */
static struct seg into_time_wait(struct testbed *tb, struct tcp_conn *c, struct peer *p,
                                 uint64_t at)
{
    struct tcp *tcp = TCP_OF(tb);
    uint32_t in_use = tcp_conns_in_use(tcp), records = tcp_time_wait_count(tcp);
    uint64_t evicted = tcp->stats.time_wait_evicted;
    tb_advance(tb, at);
    cr_assert_eq(tcp_close(tcp, c, at), NET_OK);
    expect_our_fin(tb, p);
    peer_send(tb, p, TCP_FIN | TCP_ACK, NULL, 0, at + 1 * MS);
    struct seg a = expect_pure_ack(tb, p->ack, p->seq);
    cr_assert_eq(tcp_conns_in_use(tcp), in_use - 1, "TIME_WAIT still holds the slot");
    /* One more, unless the ring was full and its oldest had to end. */
    cr_assert_eq(tcp_time_wait_count(tcp) + (tcp->stats.time_wait_evicted - evicted), records + 1,
                 "no TIME_WAIT record");
    return a;
}

/* The ACK a record sends: the connection's seq, ack and window; its TSecr is the peer's
 * latest TSval. */
static struct seg expect_record_ack(struct testbed *tb, const struct seg *last, uint32_t ts_ecr)
{
    struct seg a = expect_pure_ack(tb, last->r.seq, last->r.ack);
    cr_assert_eq(a.r.window, last->r.window, "window %u, the connection said %u", a.r.window,
                 last->r.window);
    cr_assert_eq(a.r.has_ts, last->r.has_ts);
    if (a.r.has_ts) {
        cr_assert_eq(a.r.ts_ecr, ts_ecr);
        cr_assert_eq(a.r.ts_val - last->r.ts_val, (uint32_t)((a.at - last->at) / MS),
                     "TSval keeps the connection's clock");
    }
    return a;
}

/* ---- The slot and the record ------------------------------------------------------- */

Test(tcp_time_wait, a_closed_connection_leaves_its_slot_and_the_record_ends_after_2msl)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    uint32_t gen = c->gen;
    into_time_wait(&tb, c, &p, T0 + 100 * MS); /* TIME_WAIT from T0 + 101 ms */
    cr_assert_neq(c->gen, gen, "the slot was freed");
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    cr_assert_eq(TCP_OF(&tb)->stats.closed, 1);

    tb_advance(&tb, T0 + 101 * MS + 2 * MSL - 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    tb_advance(&tb, T0 + 101 * MS + 2 * MSL);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0, "2*MSL after the FIN");
    cr_assert_eq(tcp_next_deadline(TCP_OF(&tb)), UINT64_MAX);
    expect_nothing(&tb);

    /* Gone: the peer's FIN now finds nothing and is reset. */
    peer_send_seg(&tb, &p, p.seq - 1, p.ack, TCP_FIN | TCP_ACK, p.window, NULL, 0,
                  T0 + 3 * SEC);
    expect_flags(&tb, TCP_RST);
    testbed_free(&tb);
}

Test(tcp_time_wait, a_connection_still_held_keeps_its_slot_until_closed)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_shutdown(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    expect_our_fin(&tb, &p);
    peer_send(&tb, &p, TCP_FIN | TCP_ACK, NULL, 0, T0 + 101 * MS);
    struct seg last = expect_pure_ack(&tb, s + 1, r + 1);
    expect_state(c, TCP_TIME_WAIT);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1, "the application may still read");
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0);

    tb_advance(&tb, T0 + 500 * MS);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 500 * MS), NET_OK);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0, "closed: the record takes over");
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    peer_send_seg(&tb, &p, r, s + 1, TCP_FIN | TCP_ACK, p.window, NULL, 0, T0 + 600 * MS);
    expect_record_ack(&tb, &last, p.ts_val - 2); /* TSval of the first FIN */
    /* The FIN restarted 2*MSL from T0 + 600 ms; without it the end stays 2*MSL after
     * TIME_WAIT began, not after the close. */
    tb_advance(&tb, T0 + 600 * MS + 2 * MSL - 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    tb_advance(&tb, T0 + 600 * MS + 2 * MSL);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_time_wait, a_last_ack_the_device_refused_keeps_the_slot_until_it_goes_out)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;
    tb_advance(&tb, T0 + 100 * MS);
    cr_assert_eq(tcp_close(TCP_OF(&tb), c, T0 + 100 * MS), NET_OK);
    expect_our_fin(&tb, &p);
    tb.link.full = true;
    peer_send(&tb, &p, TCP_FIN | TCP_ACK, NULL, 0, T0 + 101 * MS);
    expect_nothing(&tb);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1, "the ACK is owed: the slot stays");
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0);
    tb.link.full = false;
    tb_poll(&tb, T0 + 102 * MS);
    expect_pure_ack(&tb, s + 1, r + 1);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    tb_advance(&tb, T0 + 101 * MS + 2 * MSL);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0, "2*MSL from the FIN, not from the ACK");
    testbed_free(&tb);
}

/* ---- What a record answers ----------------------------------------------------------- */

Test(tcp_time_wait, retransmitted_fin_is_reacked_and_restarts_2msl)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;
    struct seg last = into_time_wait(&tb, c, &p, T0 + 100 * MS); /* from T0 + 101 ms */

    /* Our ACK was lost: the peer sends its FIN again, 1.5 s later. */
    uint64_t again = T0 + 1601 * MS;
    peer_send_seg(&tb, &p, r, s + 1, TCP_FIN | TCP_ACK, p.window, NULL, 0, again);
    struct seg a = expect_record_ack(&tb, &last, p.ts_val - 2);
    cr_assert_eq(a.at, again, "re-ACK at once");
    tb_advance(&tb, T0 + 101 * MS + 2 * MSL);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1, "2*MSL was restarted");
    tb_advance(&tb, again + 2 * MSL - 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    tb_advance(&tb, again + 2 * MSL);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0, "2*MSL after the last FIN");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_time_wait, a_fin_at_rcv_nxt_is_acked_and_restarts_2msl)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    uint32_t s = p.ack;
    into_time_wait(&tb, c, &p, T0 + 100 * MS); /* TIME_WAIT from T0 + 101 ms */

    /* RFC 9293 3.10.7.4, eighth check: a FIN in TIME_WAIT restarts the 2*MSL timeout,
     * also one inside the window, at RCV.NXT, past the FIN we hold. */
    uint64_t again = T0 + 1601 * MS;
    peer_send_seg(&tb, &p, p.seq, s + 1, TCP_FIN | TCP_ACK, p.window, NULL, 0, again);
    struct seg a = expect_pure_ack(&tb, s + 1, p.seq);
    cr_assert_eq(a.at, again, "ACK at once");
    tb_advance(&tb, T0 + 101 * MS + 2 * MSL);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    tb_advance(&tb, again + 2 * MSL);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0, "2*MSL after the last FIN");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_time_wait, bare_acks_are_quiet_and_old_data_is_acked)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;
    into_time_wait(&tb, c, &p, T0 + 100 * MS);

    peer_send_seg(&tb, &p, p.seq, s + 1, TCP_ACK, p.window, NULL, 0, T0 + 200 * MS);
    expect_nothing(&tb);
    /* Bytes from before the FIN and after it: the old are counted, the new not taken. */
    peer_send_seg(&tb, &p, r - 2, s + 1, TCP_ACK | TCP_PSH, p.window, "late", 4, T0 + 300 * MS);
    expect_pure_ack(&tb, s + 1, r + 1);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_dup_bytes, 3);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    testbed_free(&tb);
}

Test(tcp_time_wait, paws_and_bad_acks_get_an_ack_and_change_nothing)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    uint32_t s = p.ack, r = p.seq;
    into_time_wait(&tb, c, &p, T0 + 100 * MS);
    struct tcp_stats before = TCP_OF(&tb)->stats;

    /* RFC 7323 5.3: an old TSval is an old duplicate. */
    uint8_t o[TCP_OPT_MAX];
    size_t n = fr_tcp_opt_ts(o, PEER_TS - 1000, 0);
    peer_send_raw(&tb, &p, r + 1, s + 1, TCP_FIN | TCP_ACK, PEER_WINDOW, o, n, NULL, 0,
                  T0 + 200 * MS);
    expect_pure_ack(&tb, s + 1, r + 1);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_paws, before.rx_paws + 1);
    /* RFC 5961 5.2: an ACK of bytes never sent. */
    peer_send_seg(&tb, &p, r + 1, s + 100, TCP_ACK, p.window, NULL, 0, T0 + 300 * MS);
    expect_pure_ack(&tb, s + 1, r + 1);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_bad_ack, before.rx_bad_ack + 1);
    /* A segment outside the window. */
    peer_send_seg(&tb, &p, r + 1 + 1000000, s + 1, TCP_ACK, p.window, "x", 1, T0 + 400 * MS);
    expect_pure_ack(&tb, s + 1, r + 1);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_unacceptable, before.rx_unacceptable + 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    tb_advance(&tb, T0 + 101 * MS + 2 * MSL);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0, "none of them restarted 2*MSL");
    testbed_free(&tb);
}

Test(tcp_time_wait, an_exact_rst_ends_it_and_an_inexact_one_is_challenged)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_MSS, &fast); /* no timestamps: RSTs carry none */
    uint32_t s = p.ack, r = p.seq;
    into_time_wait(&tb, c, &p, T0 + 100 * MS);

    peer_send_seg(&tb, &p, r + 2, 0, TCP_RST, p.window, NULL, 0, T0 + 200 * MS);
    expect_pure_ack(&tb, s + 1, r + 1);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_bad_resets, 1);
    cr_assert_eq(TCP_OF(&tb)->stats.challenge_acks, 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);

    peer_send_seg(&tb, &p, r + 1, 0, TCP_RST, p.window, NULL, 0, T0 + 300 * MS);
    expect_nothing(&tb);
    cr_assert_eq(TCP_OF(&tb)->stats.rx_resets, 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0);
    peer_send_seg(&tb, &p, r, s + 1, TCP_FIN | TCP_ACK, p.window, NULL, 0, T0 + 400 * MS);
    expect_flags(&tb, TCP_RST);
    testbed_free(&tb);
}

/* ---- RFC 6191: a new SYN reopens it ---------------------------------------------- */

Test(tcp_time_wait, newer_timestamp_syn_reopens_it)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    into_time_wait(&tb, c, &p, T0 + 100 * MS);

    /* RFC 6191 2: a newer TSval proves the SYN new, whatever its sequence number. */
    uint32_t isn2 = p.seq - 100000;
    peer_send_seg(&tb, &p, isn2, 0, TCP_SYN, p.window, NULL, 0, T0 + 500 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(sa.r.ack, isn2 + 1, "the new incarnation's SYN is acknowledged");
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_reopened, 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 1);
    p.seq = isn2 + 1;
    peer_saw(&p, &sa);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, T0 + 510 * MS);
    const struct tb_tcp_event *e = last_event(&tb, NULL, TCP_EV_ACCEPTED);
    cr_assert_not_null(e);
    cr_assert_eq(count_events(&tb, NULL, TCP_EV_ACCEPTED), 2);
    expect_state(e->conn, TCP_ESTABLISHED);
    testbed_free(&tb);
}

Test(tcp_time_wait, older_timestamp_syn_does_not_reopen_it)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    struct seg last = into_time_wait(&tb, c, &p, T0 + 100 * MS);

    /* A higher sequence number but an old TSval: an old duplicate, not a new SYN. */
    uint8_t o[TCP_OPT_MAX];
    size_t n = fr_tcp_opt_mss(o, PEER_MSS);
    n += fr_tcp_opt_ts(o + n, PEER_TS - 1000, 0);
    peer_send_raw(&tb, &p, p.seq + 100000, 0, TCP_SYN, PEER_WINDOW, o, n, NULL, 0,
                  T0 + 500 * MS);
    expect_record_ack(&tb, &last, p.ts_val - 1);
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_reopened, 0);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    cr_assert_eq(tb.n_tcp_events, 1, "only the first ACCEPTED");
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_time_wait, equal_timestamp_and_higher_sequence_syn_reopens_it)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_ALL, &fast);
    into_time_wait(&tb, c, &p, T0 + 100 * MS);
    uint32_t r = p.seq;

    /* RFC 6191 2: within one tick of the peer's timestamp clock, the sequence number
     * decides. The same TSval (that of the peer's FIN) with a lower sequence stays an old
     * duplicate. */
    uint8_t o[TCP_OPT_MAX];
    size_t n = fr_tcp_opt_mss(o, PEER_MSS);
    n += fr_tcp_opt_ts(o + n, p.ts_val - 1, 0);
    peer_send_raw(&tb, &p, r - 5, 0, TCP_SYN, PEER_WINDOW, o, n, NULL, 0, T0 + 500 * MS);
    expect_flags(&tb, TCP_ACK);
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_reopened, 0);
    peer_send_raw(&tb, &p, r + 5, 0, TCP_SYN, PEER_WINDOW, o, n, NULL, 0, T0 + 600 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(sa.r.ack, r + 6);
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_reopened, 1);
    testbed_free(&tb);
}

Test(tcp_time_wait, higher_sequence_syn_reopens_it_without_timestamps)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_MSS, &fast);
    uint32_t old_snd = p.ack + 1; /* our FIN */
    into_time_wait(&tb, c, &p, T0 + 100 * MS);

    uint32_t isn2 = p.seq + 100000;
    peer_send_seg(&tb, &p, isn2, 0, TCP_SYN, p.window, NULL, 0, T0 + 500 * MS);
    struct seg sa = expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(sa.r.ack, isn2 + 1);
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_reopened, 1);
    /* RFC 1122 4.2.2.13 (b): the new ISS lies beyond the old incarnation's sequence. */
    cr_assert((int32_t)(sa.r.seq - old_snd) > 0, "new ISS %u not after old SND.NXT %u", sa.r.seq,
              old_snd);
    testbed_free(&tb);
}

Test(tcp_time_wait, lower_sequence_syn_does_not_reopen_it)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_MSS, &fast);
    into_time_wait(&tb, c, &p, T0 + 100 * MS);
    uint32_t s = p.ack, r = p.seq;

    peer_send_seg(&tb, &p, r - 10, 0, TCP_SYN, p.window, NULL, 0, T0 + 500 * MS);
    expect_pure_ack(&tb, s, r);
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_reopened, 0);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_time_wait, syn_at_exactly_rcv_nxt_does_not_reopen_it)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, PO_MSS, &fast);
    into_time_wait(&tb, c, &p, T0 + 100 * MS);
    uint32_t s = p.ack, r = p.seq;

    /* Without timestamps a new incarnation must start beyond RCV.NXT, not at it (as
     * Linux's tcp_timewait_state_process): this SYN gets the RFC 5961 challenge ACK. */
    peer_send_seg(&tb, &p, r, 0, TCP_SYN, p.window, NULL, 0, T0 + 500 * MS);
    expect_pure_ack(&tb, s, r);
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_reopened, 0);
    cr_assert_eq(TCP_OF(&tb)->stats.challenge_acks, 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), 1);
    expect_nothing(&tb);
    testbed_free(&tb);
}

/* ---- Many of them -------------------------------------------------------------------- */

/* Open a connection from `port` and take it into TIME_WAIT at `at`. */
static struct peer one_time_wait(struct testbed *tb, uint16_t port, uint64_t at)
{
    struct peer p = peer_new(port, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(tb, &p, at);
    into_time_wait(tb, c, &p, at);
    return p;
}

/* The peer's FIN again: a record answers with its ACK, no record with a RST. */
static uint8_t answer_to_fin(struct testbed *tb, struct peer *p, uint64_t at)
{
    peer_send_seg(tb, p, p->seq - 1, p->ack, TCP_FIN | TCP_ACK, p->window, NULL, 0, at);
    struct seg a = expect_seg(tb);
    expect_nothing(tb);
    return a.r.flags & (TCP_RST | TCP_ACK);
}

Test(tcp_time_wait, a_full_table_has_room_for_new_connections)
{
    struct testbed tb;
    tcp_start(&tb, NULL); /* MSL 30 s: TIME_WAIT outlives the test */
    struct peer p[TB_TCP_CONNS];
    struct tcp_conn *c[TB_TCP_CONNS];
    for (int k = 0; k < TB_TCP_CONNS; k++) {
        p[k] = peer_new((uint16_t)(PEER_PORT + k), OUR_PORT, PO_ALL);
        c[k] = open_passive(&tb, &p[k], T0 + (10 + (uint64_t)k) * MS);
    }
    into_time_wait(&tb, c[5], &p[5], T0 + 100 * MS);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), TB_TCP_CONNS - 1);

    struct peer n = peer_new(41000, OUR_PORT, PO_ALL);
    struct tcp_conn *fresh = open_passive(&tb, &n, T0 + 300 * MS);
    cr_assert_eq(fresh, c[5], "the slot TIME_WAIT left");
    cr_assert_eq(TCP_OF(&tb)->stats.syn_cookies_sent, 0, "a real slot, not a cookie");
    cr_assert_eq(TCP_OF(&tb)->stats.table_full, 0);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), TB_TCP_CONNS);
    /* ...and the old connection's TIME_WAIT still answers its peer. */
    cr_assert_eq(answer_to_fin(&tb, &p[5], T0 + 400 * MS), TCP_ACK);
    testbed_free(&tb);
}

/* A full ring ends the TIME_WAIT that began first; one restarted by a FIN counts from
 * its restart, and one that left (reopened) is no longer counted. */
Test(tcp_time_wait, a_full_ring_ends_the_oldest_time_wait_first)
{
    struct testbed tb;
    tcp_start(&tb, NULL);
    enum { CAP = TB_TCP_CONNS * TCP_TW_PER_CONN };
    static struct peer p[CAP + 2];
    uint64_t at = T0 + 10 * MS;
    for (int k = 0; k < CAP; k++, at += 10 * MS)
        p[k] = one_time_wait(&tb, (uint16_t)(20000 + k), at);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), CAP);
    cr_assert_eq(tcp_conns_in_use(TCP_OF(&tb)), 0);

    /* p[0] restarts (its FIN again): now the newest. p[1] is reopened: it leaves. */
    cr_assert_eq(answer_to_fin(&tb, &p[0], at), TCP_ACK);
    p[1].seq += 100000;
    p[1].ts_val += 1000;
    peer_send(&tb, &p[1], TCP_SYN, NULL, 0, at);
    expect_flags(&tb, TCP_SYN | TCP_ACK);
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_reopened, 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), CAP - 1);

    /* One more fits where p[1]'s was; the next ends p[2]'s, the oldest left. */
    p[CAP] = one_time_wait(&tb, 30000, at += 10 * MS);
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_evicted, 0);
    p[CAP + 1] = one_time_wait(&tb, 30001, at += 10 * MS);
    cr_assert_eq(TCP_OF(&tb)->stats.time_wait_evicted, 1);
    cr_assert_eq(tcp_time_wait_count(TCP_OF(&tb)), CAP);

    at += 10 * MS;
    cr_assert_eq(answer_to_fin(&tb, &p[2], at), TCP_RST, "the oldest was ended");
    cr_assert_eq(answer_to_fin(&tb, &p[3], at), TCP_ACK);
    cr_assert_eq(answer_to_fin(&tb, &p[0], at), TCP_ACK, "the restarted one is young");
    cr_assert_eq(answer_to_fin(&tb, &p[CAP + 1], at), TCP_ACK);
    testbed_free(&tb);
}

Test(tcp_time_wait, connect_will_not_reuse_a_tuple_in_time_wait)
{
    struct testbed tb;
    struct peer p;
    tcp_start(&tb, &fast);
    p = peer_new(80, 50000, PO_ALL);
    struct tcp_conn *c = open_active(&tb, &p, T0 + 10 * MS);
    into_time_wait(&tb, c, &p, T0 + 100 * MS);

    int err = 0;
    cr_assert_null(tcp_connect(TCP_OF(&tb), PEER, 80, 50000, NULL, T0 + 200 * MS, &err));
    cr_assert_eq(err, NET_EINVAL, "the tuple is in TIME_WAIT");
    struct tcp_conn *other = tcp_connect(TCP_OF(&tb), PEER, 80, 0, NULL, T0 + 200 * MS, &err);
    cr_assert_not_null(other);
    cr_assert_neq(conn_info(other).local_port, 50000);
    testbed_free(&tb);
}

/* What a guest counts as not yet touched (its `mem` line): slots and records leave the
 * reserve as connections first need them, and never come back to it. */
Test(tcp_time_wait, untouched_memory_shrinks_by_what_connections_first_use)
{
    struct testbed tb;
    struct peer p;
    tcp_start(&tb, &fast);
    struct tcp *tcp = TCP_OF(&tb);
    size_t slot = sizeof(struct tcp_conn) + tcp->cfg.rx_size + tcp->cfg.tx_size;
    size_t all = TB_TCP_CONNS * (slot + TCP_TW_PER_CONN * sizeof(struct tcp_tw));
    cr_assert_eq(tcp_untouched_bytes(tcp), all);
    cr_assert_eq(tcp_slots_never_used(tcp), TB_TCP_CONNS);
    p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    struct tcp_conn *c = open_passive(&tb, &p, T0 + 10 * MS);
    cr_assert_eq(tcp_untouched_bytes(tcp), all - slot);
    into_time_wait(&tb, c, &p, T0 + 100 * MS);
    cr_assert_eq(tcp_untouched_bytes(tcp), all - slot - sizeof(struct tcp_tw));
    cr_assert_eq(tcp_slots_never_used(tcp), TB_TCP_CONNS - 1);
    /* The next connection reuses the freed slot: nothing new is touched. */
    p = peer_new(PEER_PORT + 1, OUR_PORT, PO_ALL);
    open_passive(&tb, &p, T0 + 200 * MS);
    cr_assert_eq(tcp_untouched_bytes(tcp), all - slot - sizeof(struct tcp_tw));
    testbed_free(&tb);
}
