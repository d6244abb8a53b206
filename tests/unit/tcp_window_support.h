/*
 * tcp_window_support.h — what the congestion and recovery tests share: a connection
 * with data in flight, counted in MSS units (S(k) is the sequence number of the k-th
 * full-sized segment, k from 1; with timestamps an MSS of 1460 carries 1448 bytes).
 */
#ifndef TESTS_UNIT_TCP_WINDOW_SUPPORT_H
#define TESTS_UNIT_TCP_WINDOW_SUPPORT_H

#include "tcp_support.h"
#define MSS_TS (PEER_MSS - 12)
#define NO_WS (PO_MSS | PO_SACK | PO_TS)
#define BIG_TX (256 * 1024)
#define S(k) (base + ((uint32_t)(k)-1) * MSS_TS)

static inline uint8_t pat(uint32_t off)
{
    return (uint8_t)(off * 13u + (off >> 7) + 0x5au);
}

static inline void app_send(struct testbed *tb, struct tcp_conn *c, uint32_t off, size_t n,
                            uint64_t at)
{
    static uint8_t buf[BIG_TX];
    cr_assert_leq(n, sizeof(buf));
    for (size_t k = 0; k < n; k++)
        buf[k] = pat(off + (uint32_t)k);
    tb_advance(tb, at);
    int took = tcp_send(TCP_OF(tb), c, buf, n, at);
    cr_assert_eq(took, (int)n, "tcp_send took %d of %zu bytes", took, n);
}

static inline struct seg expect_data(struct testbed *tb, uint32_t seq, size_t len, uint64_t at)
{
    struct seg s = expect_seg(tb);
    char f[9];
    cr_assert((s.r.flags & TCP_ACK) && !(s.r.flags & (TCP_SYN | TCP_FIN | TCP_RST)),
              "expected a data segment, got [%s]", flag_str(s.r.flags, f));
    cr_assert_eq(s.r.seq, seq, "data at seq %u, expected %u (%+d)", s.r.seq, seq,
                 (int32_t)(s.r.seq - seq));
    cr_assert_eq(s.len, len, "segment carries %zu bytes, expected %zu", s.len, len);
    cr_assert_eq(s.at, at, "segment left at T0+%llu us, expected T0+%llu us",
                 (unsigned long long)((s.at - T0) / 1000), (unsigned long long)((at - T0) / 1000));
    return s;
}

static inline void quiet_until(struct testbed *tb, uint64_t at)
{
    tb_advance(tb, at - 1);
    expect_nothing(tb);
    tb_advance(tb, at);
}

/* A pure ACK of `ack` from the peer, with its current window. */
static inline void ack_to(struct testbed *tb, struct peer *p, uint32_t ack, uint64_t at)
{
    peer_send_seg(tb, p, p->seq, ack, TCP_ACK, p->window, NULL, 0, at);
}

static inline struct tcp_conn *setup(struct testbed *tb, struct peer *p, uint8_t opts,
                                     uint16_t window, uint32_t tx)
{
    struct node_cfg cfg = testbed_default_cfg();
    if (tx)
        cfg.tcp_tx_size = tx;
    tcp_start_cfg(tb, &cfg);
    *p = peer_new(PEER_PORT, OUR_PORT, opts);
    p->window = window;
    return open_passive(tb, p, T0 + 10 * MS);
}

static inline void expect_cwnd(const struct tcp_conn *c, uint32_t cwnd, uint32_t ssthresh)
{
    struct tcp_conn_info i = conn_info(c);
    cr_assert_eq(i.cwnd, cwnd, "cwnd %u (%.2f MSS), expected %u (%.2f MSS)", i.cwnd,
                 i.cwnd / (double)MSS_TS, cwnd, cwnd / (double)MSS_TS);
    if (ssthresh)
        cr_assert_eq(i.ssthresh, ssthresh, "ssthresh %u, expected %u", i.ssthresh, ssthresh);
}

/* A bulk sender on a big ring: ten full segments out at `t1`, S(1)..S(10). */
static inline struct tcp_conn *ten_in_flight(struct testbed *tb, struct peer *p, uint32_t *base,
                                             uint64_t t1)
{
    struct tcp_conn *c = setup(tb, p, PO_ALL, PEER_WINDOW, BIG_TX);
    *base = p->ack;
    app_send(tb, c, 0, 200000, t1);
    for (uint32_t k = 0; k < 10; k++)
        expect_data(tb, *base + k * MSS_TS, MSS_TS, t1);
    expect_nothing(tb);
    cr_assert_eq(conn_info(c).in_flight, 10 * MSS_TS);
    return c;
}

/* ---- Slow start and congestion avoidance (RFC 5681 3.1, RFC 6928) ----------------- */

#endif
