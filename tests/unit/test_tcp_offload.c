/*
 * TCP over a device that finishes checksums and cuts TSO bursts (the fake link does the
 * device's part, as a host would, so every frame seen here is an ordinary segment whose
 * checksums parse_seg verifies), and the send queue's runs kept in place
 * (tcp_send_static) beside the ring's copied bytes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_support.h"

#define MSS_TS (PEER_MSS - 12) /* payload per segment when timestamps are on */
#define IW (10 * MSS_TS)       /* the initial window */
#define BIG (200 * 1024)

static const struct net_dev_caps tso = {.tx_csum = true, .tso_max = 65536};

static uint8_t pat(uint32_t off)
{
    return (uint8_t)(off * 31 + (off >> 8) * 7 + 1);
}

static void fill(uint8_t *buf, uint32_t off, size_t n)
{
    for (size_t k = 0; k < n; k++)
        buf[k] = pat(off + (uint32_t)k);
}

static void check_stream(const uint8_t *buf, uint32_t off, size_t n)
{
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(buf[k], pat(off + (uint32_t)k), "byte %zu of the stream", off + k);
}

/* A node whose link offers `caps`, and a connection the peer opened with every option. */
static struct tcp_conn *setup(struct testbed *tb, struct peer *p, struct net_dev_caps caps)
{
    struct node_cfg cfg = testbed_default_cfg();
    cfg.dev_caps = caps;
    tcp_start_cfg(tb, &cfg);
    *p = peer_new(PEER_PORT, OUR_PORT, PO_ALL);
    return open_passive(tb, p, T0 + 10 * MS);
}

/* Every segment now on the link, checked against the stream from `*off`; returns how
 * many, with the last one in `last`. */
static size_t take_stream(struct testbed *tb, uint32_t *off, struct seg *last)
{
    size_t n = 0;
    while (fake_link_pending(&tb->link)) {
        *last = expect_seg(tb);
        cr_assert_leq(last->len, MSS_TS, "a segment over the MSS reached the wire");
        check_stream(last->data, *off, last->len);
        *off += last->len;
        n++;
    }
    return n;
}

/* BIG bytes of the stream, queued in place at T0 + 100 ms (returned). */
static uint64_t send_big(struct testbed *tb, struct tcp_conn *c)
{
    static uint8_t data[BIG];
    fill(data, 0, sizeof(data));
    uint64_t t = T0 + 100 * MS;
    tb_advance(tb, t);
    cr_assert_eq(tcp_send_static(TCP_OF(tb), c, data, sizeof(data), false, t), BIG);
    return t;
}

Test(tcp_offload, new_data_leaves_as_one_burst_the_device_cuts_into_mss_segments)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, tso);
    uint64_t t = send_big(&tb, c);
    cr_assert_eq(tb.link.bursts, 1, "the initial window went down as one burst");
    cr_assert_eq(TCP_OF(&tb)->stats.tx_bursts, 1);
    uint32_t off = 0;
    struct seg last;
    cr_assert_eq(take_stream(&tb, &off, &last), 10, "the initial window is ten segments");
    cr_assert_eq(off, IW);
    cr_assert_eq(last.r.flags & (TCP_PSH | TCP_FIN), 0, "no PSH before the end of the data");

    /* Each ACK opens the window and the next burst goes; the peer gets every byte. */
    size_t acks = 0;
    while (off < BIG) {
        peer_saw(&p, &last);
        peer_send(&tb, &p, TCP_ACK, NULL, 0, t + (++acks) * MS);
        cr_assert_gt(take_stream(&tb, &off, &last), 0, "ACK %zu brought nothing", acks);
    }
    cr_assert_eq(off, BIG);
    cr_assert(last.r.flags & TCP_PSH, "the last segment pushes");
    cr_assert_gt(tb.link.bursts, acks / 2, "%zu bursts for %zu ACKs", tb.link.bursts, acks);
    testbed_free(&tb);
}

Test(tcp_offload, without_tso_every_segment_goes_down_alone)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, (struct net_dev_caps){.tx_csum = true});
    send_big(&tb, c);
    uint32_t off = 0;
    struct seg last;
    cr_assert_eq(take_stream(&tb, &off, &last), 10);
    cr_assert_eq(tb.link.bursts, 0);
    cr_assert_eq(TCP_OF(&tb)->stats.tx_bursts, 0);
    testbed_free(&tb);
}

/* A burst's short last piece obeys the rule a short segment of its own would: corked, it
 * waits for the rest of the write (Nagle off, as the web server runs). */
Test(tcp_offload, a_corked_burst_holds_its_short_tail_until_the_write_ends)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, tso);
    tcp_set_nodelay(c, true);
    static uint8_t data[3 * MSS_TS + 100 + 50];
    fill(data, 0, sizeof(data));
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    tcp_send_static(TCP_OF(&tb), c, data, 3 * MSS_TS + 100, true, t);
    uint32_t off = 0;
    struct seg last;
    cr_assert_eq(take_stream(&tb, &off, &last), 3, "the 100-byte tail went out corked");
    cr_assert_eq(off, 3 * MSS_TS);
    tcp_send_static(TCP_OF(&tb), c, data + off + 100, 50, false, t + MS);
    cr_assert_eq(take_stream(&tb, &off, &last), 1);
    cr_assert_eq(last.len, 150, "tail and the end of the write in one segment");
    cr_assert(last.r.flags & TCP_PSH);
    testbed_free(&tb);
}

Test(tcp_offload, a_timeout_resends_one_segment_not_a_burst)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, tso);
    uint64_t t = send_big(&tb, c);
    skip_frames(&tb);
    size_t bursts = tb.link.bursts;
    tb_advance(&tb, t + conn_info(c).rto_ns + MS);
    struct seg s = expect_seg(&tb);
    cr_assert_eq(s.r.seq, p.ack, "from snd_una");
    cr_assert_eq(s.len, MSS_TS, "one MSS: the window is one segment after a timeout");
    check_stream(s.data, 0, s.len);
    expect_nothing(&tb);
    cr_assert_eq(tb.link.bursts, bursts);
    testbed_free(&tb);
}

/* ---- The send queue: ring bytes and runs kept in place ------------------------------- */

Test(tcp_offload, static_runs_and_copied_bytes_leave_in_the_order_written)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, (struct net_dev_caps){0});
    static uint8_t want[100 + 20000 + 50 + 3000];
    fill(want, 0, sizeof(want));
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    struct tcp *tcp = TCP_OF(&tb);
    uint32_t ring_free = conn_info(c).tx_free;
    cr_assert_eq(tcp_send_more(tcp, c, want, 100, t), 100);
    cr_assert_eq(tcp_send_static(tcp, c, want + 100, 20000, true, t), 20000,
                 "static bytes are not bounded by the %u-byte ring", TB_TCP_RING);
    cr_assert_eq(conn_info(c).tx_free, ring_free - 100, "and take no ring room");
    cr_assert_eq(tcp_send_more(tcp, c, want + 20100, 50, t), 50);
    cr_assert_eq(tcp_send(tcp, c, want + 20150, 3000, t), 3000);
    cr_assert_eq(conn_info(c).unsent + conn_info(c).in_flight, sizeof(want));

    uint32_t off = 0;
    struct seg last;
    size_t acks = 0;
    for (;;) {
        take_stream(&tb, &off, &last);
        if (off == sizeof(want))
            break;
        peer_saw(&p, &last);
        peer_send(&tb, &p, TCP_ACK, NULL, 0, t + (++acks) * MS);
        cr_assert_lt(acks, 100u, "stalled at byte %u", off);
    }
    peer_saw(&p, &last);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + (++acks) * MS);
    cr_assert_eq(conn_info(c).unsent + conn_info(c).in_flight, 0, "all acknowledged");
    cr_assert_eq(conn_info(c).tx_free, ring_free, "the ring's room is back");
    testbed_free(&tb);
}

/* A lost segment that straddles a ring run and a static run comes back byte-exact. */
Test(tcp_offload, a_retransmission_across_runs_resends_the_same_bytes)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, (struct net_dev_caps){0});
    static uint8_t want[700 + 5000];
    fill(want, 0, sizeof(want));
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    tcp_send_more(TCP_OF(&tb), c, want, 700, t);
    tcp_send_static(TCP_OF(&tb), c, want + 700, 5000, false, t);
    struct seg first = expect_seg(&tb);
    cr_assert_eq(first.len, MSS_TS);
    check_stream(first.data, 0, first.len); /* 700 ring bytes, then the static run */
    skip_frames(&tb);
    tb_advance(&tb, t + conn_info(c).rto_ns + MS); /* all of it was lost */
    struct seg again = expect_seg(&tb);
    cr_assert_eq(again.r.seq, first.r.seq);
    cr_assert_eq(again.len, first.len);
    check_stream(again.data, 0, again.len);
    /* The peer acknowledges into the middle of the static run; the rest follows from there. */
    p.ack = first.r.seq + 3000;
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + conn_info(c).rto_ns + 2 * MS);
    struct seg next = expect_seg(&tb);
    cr_assert_eq(next.r.seq, first.r.seq + 3000);
    check_stream(next.data, 3000, next.len);
    testbed_free(&tb);
}

Test(tcp_offload, static_runs_are_bounded_and_writable_follows_when_one_is_acked)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, (struct net_dev_caps){0});
    static uint8_t a[64], b[64];
    fill(a, 0, sizeof(a));
    fill(b, 1000, sizeof(b));
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    struct tcp *tcp = TCP_OF(&tb);
    cr_assert_eq(tcp_send_static(tcp, c, b + 32, 0, true, t), 0, "nothing queued, no run spent");
    /* Runs from two places alternate, so none merges with the one before. */
    for (int k = 0; k < TCP_SPANS_MAX; k++)
        cr_assert_eq(tcp_send_static(tcp, c, k % 2 ? b : a, 10, true, t), 10, "run %d", k);
    cr_assert_eq(tcp_send_static(tcp, c, a, 10, true, t), 0, "the runs are all in use");
    cr_assert_eq(conn_info(c).tx_free, 0);
    /* A run next to the last one's end merges with it and needs no new run. */
    cr_assert_eq(tcp_send_static(tcp, c, b + 10, 5, false, t), 5);
    cr_assert_eq(tcp_send(tcp, c, "x", 1, t), 0, "ring bytes would need a run too");
    struct seg s = expect_seg(&tb);
    cr_assert_eq(s.len, 65);
    for (int k = 0; k < 65; k++)
        cr_assert_eq(s.data[k], k < 60 ? (k / 10 % 2 ? b : a)[k % 10] : b[10 + k - 60]);
    peer_saw(&p, &s);
    peer_send(&tb, &p, TCP_ACK, NULL, 0, t + 10 * MS);
    cr_assert_not_null(last_event(&tb, c, TCP_EV_WRITABLE), "told when a run is free");
    cr_assert_eq(tcp_send(tcp, c, "x", 1, t + 11 * MS), 1);
    testbed_free(&tb);
}

Test(tcp_offload, static_send_after_shutdown_is_refused)
{
    struct testbed tb;
    struct peer p;
    struct tcp_conn *c = setup(&tb, &p, (struct net_dev_caps){0});
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    tcp_shutdown(TCP_OF(&tb), c, t);
    cr_assert_eq(tcp_send_static(TCP_OF(&tb), c, "abc", 3, false, t), NET_EINVAL);
    testbed_free(&tb);
}
