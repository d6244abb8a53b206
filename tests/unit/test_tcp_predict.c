/*
 * test_tcp_predict.c — header prediction (tcp_in.c's predicted()) against the full input
 * path it short-cuts.
 *
 * Two nodes, identical but for tcp_cfg.no_prediction on the second, hold the same
 * conversation at the same times: in-order data, pure ACKs, window updates, duplicate
 * ACKs, reordering, old timestamps, a full ring, data both ways. After every step both
 * must have sent byte-identical frames at the same times, raised the same events, handed
 * the application the same bytes, and hold the same connection state and counters (all
 * but rx_predicted, which shows that the first node took the short path at all).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_support.h"

#define MSS_TS (PEER_MSS - 12)

/* Node 0 predicts, node 1 does not; each has its own peer, kept in step by what it sees. */
struct twin {
    struct testbed tb[2];
    struct peer p[2];
    struct tcp_conn *c[2];
    size_t events[2]; /* events already compared */
    uint8_t out[2][16384];
};

static uint8_t pat(uint32_t off)
{
    return (uint8_t)(off * 7u + (off >> 9) + 0x21u);
}

static void twin_open(struct twin *w, uint8_t opts, uint32_t rx)
{
    memset(w, 0, sizeof(*w));
    for (int i = 0; i < 2; i++) {
        /* Short keep-alive times, for the test that turns it on. */
        struct tcp_cfg tune = {.no_prediction = i == 1,
                               .keepalive_idle_ns = 10 * NET_NS_PER_SEC,
                               .keepalive_interval_ns = 1 * NET_NS_PER_SEC};
        struct node_cfg cfg = testbed_default_cfg();
        cfg.tcp_tune = &tune;
        if (rx)
            cfg.tcp_rx_size = rx;
        tcp_start_cfg(&w->tb[i], &cfg);
        w->p[i] = peer_new(PEER_PORT, OUR_PORT, opts);
        w->c[i] = open_passive(&w->tb[i], &w->p[i], T0 + 10 * MS);
        w->events[i] = w->tb[i].n_tcp_events;
    }
}

/* The connection as state: the same but for where each node's memory is. */
static struct tcp_conn state_of(const struct tcp_conn *c)
{
    struct tcp_conn s = *c;
    s.rx = s.tx = NULL;
    s.user = NULL;
    return s;
}

/* Everything both nodes did since the last check is the same; the peers see it. */
static void same(struct twin *w)
{
    for (;;) {
        const struct fake_frame *a = tb_next(&w->tb[0]), *b = tb_next(&w->tb[1]);
        cr_assert_eq(a == NULL, b == NULL, "one node sent a frame the other did not");
        if (!a)
            break;
        cr_assert_eq(a->len, b->len, "frames of %zu and %zu bytes", a->len, b->len);
        cr_assert_eq(a->ts, b->ts, "frames sent at different times");
        cr_assert(memcmp(a->data, b->data, a->len) == 0, "frames differ");
        if (net_get16(a->data + ETH_OFF_TYPE) != ETH_TYPE_IPV4)
            continue; /* ARP */
        for (int i = 0; i < 2; i++) {
            struct seg s;
            parse_seg(i ? b : a, &s);
            peer_saw(&w->p[i], &s);
        }
    }
    cr_assert_eq(w->tb[0].n_tcp_events, w->tb[1].n_tcp_events, "different numbers of events");
    for (size_t k = w->events[0]; k < w->tb[0].n_tcp_events; k++) {
        cr_assert_eq(w->tb[0].tcp_events[k].ev, w->tb[1].tcp_events[k].ev, "event %zu differs", k);
        cr_assert_eq(w->tb[0].tcp_events[k].at, w->tb[1].tcp_events[k].at);
    }
    w->events[0] = w->events[1] = w->tb[0].n_tcp_events;
    struct tcp_conn a = state_of(w->c[0]), b = state_of(w->c[1]);
    cr_assert(memcmp(&a, &b, sizeof(a)) == 0, "connection state differs");
    struct tcp_stats sa = TCP_OF(&w->tb[0])->stats, sb = TCP_OF(&w->tb[1])->stats;
    cr_assert_eq(sb.rx_predicted, 0, "the node without prediction predicted");
    sa.rx_predicted = 0;
    cr_assert(memcmp(&sa, &sb, sizeof(sa)) == 0, "counters differ");
}

/* The peer's stream bytes [off, off + n) at seq = base + off, acknowledging what it saw. */
static void data(struct twin *w, uint32_t base, uint32_t off, size_t n, uint64_t at)
{
    uint8_t buf[2048];
    cr_assert_leq(n, sizeof(buf));
    for (size_t k = 0; k < n; k++)
        buf[k] = pat(off + (uint32_t)k);
    for (int i = 0; i < 2; i++)
        peer_send_seg(&w->tb[i], &w->p[i], base + off, w->p[i].ack, TCP_ACK | TCP_PSH,
                      w->p[i].window, buf, n, at);
    same(w);
}

/* A pure ACK of `ack` offering `window`, at the peer's next sequence number. */
static void ack(struct twin *w, uint32_t ack_no, uint16_t window, uint64_t at)
{
    for (int i = 0; i < 2; i++)
        peer_send_seg(&w->tb[i], &w->p[i], w->p[i].seq, ack_no, TCP_ACK, window, NULL, 0, at);
    same(w);
}

/* The application writes n stream bytes (from `off`) at `at`. */
static void app_send(struct twin *w, uint32_t off, size_t n, uint64_t at)
{
    uint8_t buf[16384];
    cr_assert_leq(n, sizeof(buf));
    for (size_t k = 0; k < n; k++)
        buf[k] = pat(off + (uint32_t)k) ^ 0xff;
    for (int i = 0; i < 2; i++) {
        tb_advance(&w->tb[i], at);
        cr_assert_eq(tcp_send(TCP_OF(&w->tb[i]), w->c[i], buf, n, at), (int)n);
    }
    same(w);
}

/* The application reads everything at `at`: the same bytes on both. */
static size_t app_read(struct twin *w, uint64_t at)
{
    size_t n[2];
    for (int i = 0; i < 2; i++) {
        tb_advance(&w->tb[i], at);
        n[i] = recv_all(&w->tb[i], w->c[i], w->out[i], sizeof(w->out[i]));
    }
    cr_assert_eq(n[0], n[1]);
    cr_assert(memcmp(w->out[0], w->out[1], n[0]) == 0, "the applications read different bytes");
    same(w);
    return n[0];
}

static void advance(struct twin *w, uint64_t to)
{
    for (int i = 0; i < 2; i++)
        tb_advance(&w->tb[i], to);
    same(w);
}

static void twin_free(struct twin *w)
{
    cr_assert_gt(TCP_OF(&w->tb[0])->stats.rx_predicted, 0, "nothing took the short path");
    for (int i = 0; i < 2; i++)
        testbed_free(&w->tb[i]);
}

/* In-order data of every size, read now and then, with delayed and immediate ACKs. */
static void receive_stream(uint8_t opts)
{
    struct twin w;
    twin_open(&w, opts, 0);
    uint32_t base = w.p[0].seq, off = 0;
    uint64_t t = T0 + 100 * MS;
    static const size_t sizes[] = {1, 64, 100, MSS_TS, 1000, 7, MSS_TS, 512, 3, 1200};
    for (size_t k = 0; k < 30; k++) {
        size_t n = sizes[k % 10];
        data(&w, base, off, n, t);
        off += (uint32_t)n;
        t += (k % 3) ? 1 * MS : 50 * MS; /* some delayed ACKs fire in between */
        advance(&w, t);
        if (k % 4 == 3)
            app_read(&w, t);
        for (int i = 0; i < 2; i++)
            w.p[i].seq = base + off;
    }
    app_read(&w, t);
    advance(&w, t + 1000 * MS);
    twin_free(&w);
}

Test(tcp_predict, in_order_data_with_timestamps_agrees)
{
    receive_stream(PO_ALL);
}

Test(tcp_predict, in_order_data_without_options_agrees)
{
    receive_stream(PO_MSS); /* the bench's connection: 20-byte headers, no window scale */
}

/* Our data acknowledged piece by piece, with window changes, duplicate ACKs (fast
 * retransmit), an ACK of nothing new and one for data never sent. */
static void send_stream(uint8_t opts)
{
    struct twin w;
    twin_open(&w, opts, 0);
    uint64_t t = T0 + 100 * MS;
    app_send(&w, 0, 8000, t);
    uint32_t first = w.c[0]->snd_una;
    uint32_t mss = w.c[0]->snd_mss;
    ack(&w, first + mss, PEER_WINDOW, t + 10 * MS);          /* one segment */
    ack(&w, first + 3 * mss, PEER_WINDOW, t + 11 * MS);      /* two more */
    ack(&w, first + 3 * mss, PEER_WINDOW - 1000, t + 12 * MS); /* a window update */
    ack(&w, first + 3 * mss, PEER_WINDOW - 1000, t + 13 * MS); /* duplicates ... */
    ack(&w, first + 3 * mss, PEER_WINDOW - 1000, t + 14 * MS);
    ack(&w, first + 3 * mss, PEER_WINDOW - 1000, t + 15 * MS); /* ... the third */
    ack(&w, first + 5 * mss, PEER_WINDOW - 1000, t + 16 * MS); /* partial ACK */
    ack(&w, w.c[0]->snd_max + 100, PEER_WINDOW, t + 17 * MS);  /* data never sent */
    ack(&w, w.c[0]->snd_max, PEER_WINDOW, t + 18 * MS);        /* all of it */
    ack(&w, w.c[0]->snd_max, PEER_WINDOW, t + 19 * MS);        /* nothing in flight */
    app_send(&w, 8000, 3000, t + 20 * MS);
    ack(&w, w.c[0]->snd_max - 500, 0, t + 21 * MS); /* most of it, and a zero window */
    advance(&w, t + 3000 * MS);                     /* persist probes */
    ack(&w, w.c[0]->snd_max, PEER_WINDOW, t + 3001 * MS);
    advance(&w, t + 5000 * MS);
    twin_free(&w);
}

Test(tcp_predict, acks_of_our_data_with_timestamps_agree)
{
    send_stream(PO_ALL);
}

Test(tcp_predict, acks_of_our_data_without_options_agree)
{
    send_stream(PO_MSS);
}

/* Data both ways: each of the peer's segments acknowledges some of ours. */
Test(tcp_predict, data_both_ways_agrees)
{
    struct twin w;
    twin_open(&w, PO_ALL, 0);
    uint32_t base = w.p[0].seq, off = 0;
    uint64_t t = T0 + 100 * MS;
    for (int k = 0; k < 12; k++) {
        app_send(&w, (uint32_t)k * 700, 700, t);
        data(&w, base, off, 300, t + 1 * MS);
        off += 300;
        for (int i = 0; i < 2; i++)
            w.p[i].seq = base + off;
        if (k % 2)
            app_read(&w, t + 2 * MS);
        t += 7 * MS;
    }
    advance(&w, t + 1000 * MS);
    twin_free(&w);
}

/* What prediction must leave to the full path, in the middle of a predicted stream:
 * a hole and its filling, a retransmission, an old timestamp, data past the window of a
 * ring the application does not read, and a FIN. */
Test(tcp_predict, exceptions_in_a_stream_agree)
{
    struct twin w;
    twin_open(&w, PO_ALL, 4096);
    uint32_t base = w.p[0].seq;
    uint64_t t = T0 + 100 * MS;
    data(&w, base, 0, 500, t);
    data(&w, base, 1000, 500, t + 1 * MS); /* a hole at 500 */
    data(&w, base, 500, 500, t + 2 * MS);  /* filled */
    data(&w, base, 1500, 500, t + 3 * MS); /* predicted again */
    data(&w, base, 1000, 1000, t + 4 * MS); /* a retransmission */
    for (int i = 0; i < 2; i++)
        w.p[i].ts_val -= 100; /* an old timestamp: PAWS */
    data(&w, base, 2000, 100, t + 5 * MS);
    for (int i = 0; i < 2; i++)
        w.p[i].ts_val += 200;
    data(&w, base, 2000, 1000, t + 6 * MS);
    data(&w, base, 3000, 1000, t + 7 * MS); /* fills the 4 KiB ring: trimmed */
    data(&w, base, 4000, 100, t + 8 * MS);  /* past a closed window */
    app_read(&w, t + 9 * MS);               /* opens it: a window update */
    data(&w, base, 4096, 300, t + 10 * MS);
    for (int i = 0; i < 2; i++)
        peer_send_seg(&w.tb[i], &w.p[i], base + 4396, w.p[i].ack, TCP_ACK | TCP_FIN,
                      w.p[i].window, NULL, 0, t + 11 * MS);
    same(&w);
    app_read(&w, t + 12 * MS);
    advance(&w, t + 1000 * MS);
    twin_free(&w);
}

/* A full send ring freed by predicted ACKs (TCP_EV_WRITABLE), and keep-alive probes
 * answered by data (the probe count starts again). */
Test(tcp_predict, writable_and_keepalive_agree)
{
    struct twin w;
    twin_open(&w, PO_ALL, 0);
    uint64_t t = T0 + 100 * MS;
    app_send(&w, 0, TB_TCP_RING, t); /* exactly fills the ring: the writer waits */
    uint32_t first = w.c[0]->snd_una;
    ack(&w, first + 1000, PEER_WINDOW, t + 10 * MS);
    cr_assert_not_null(last_event(&w.tb[0], w.c[0], TCP_EV_WRITABLE));
    ack(&w, w.c[0]->snd_max, PEER_WINDOW, t + 20 * MS);
    for (int i = 0; i < 2; i++)
        tcp_set_keepalive(TCP_OF(&w.tb[i]), w.c[i], true, t + 20 * MS);
    uint64_t idle = t + 20 * MS + 10 * NET_NS_PER_SEC;
    advance(&w, idle + 1500 * MS); /* two probes */
    cr_assert_gt(w.c[0]->keepalive_probes, 0);
    data(&w, w.p[0].seq, 0, 10, idle + 1600 * MS);
    cr_assert_eq(w.c[0]->keepalive_probes, 0);
    advance(&w, idle + 1700 * MS);
    twin_free(&w);
}
