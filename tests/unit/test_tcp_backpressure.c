/*
 * A device with no transmit buffer to spare: the connections it turns away wait in line
 * for it, not for a timer, and send, oldest first, at the first poll with room (the
 * kernel polls when the device hands buffers back).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_support.h"

#define MSS_TS (PEER_MSS - 12) /* payload per segment when timestamps are on */

static uint8_t data[8 * MSS_TS];

static struct tcp_conn *open_from(struct testbed *tb, struct peer *p, uint16_t port, uint64_t at)
{
    *p = peer_new(port, OUR_PORT, PO_ALL);
    return open_passive(tb, p, at);
}

/* The frames now on the link, each checked to be `p`'s next bytes of `data`; returns
 * how many bytes they carried. */
static uint32_t take_data(struct testbed *tb, struct peer *p, uint32_t *off, uint64_t at)
{
    uint32_t got = 0;
    while (fake_link_pending(&tb->link)) {
        struct seg s = expect_seg(tb);
        cr_assert_eq(s.r.dst_port, p->port, "a segment for port %u came first", s.r.dst_port);
        cr_assert_eq(s.at, at, "sent at %lu, not at the poll (%lu)", s.at, at);
        cr_assert_eq(memcmp(s.data, data + *off, s.len), 0);
        *off += s.len;
        got += s.len;
        peer_saw(p, &s);
    }
    return got;
}

static void fill_data(void)
{
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 3);
}

Test(tcp_backpressure, data_the_device_turns_away_waits_for_room_not_for_a_timer)
{
    struct testbed tb;
    struct peer p;
    fill_data();
    tcp_start(&tb, NULL);
    struct tcp_conn *c = open_from(&tb, &p, PEER_PORT, T0 + 10 * MS);
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    tb.link.full = true;
    cr_assert_eq(tcp_send(TCP_OF(&tb), c, data, 4 * MSS_TS, t), 4 * MSS_TS);
    expect_nothing(&tb);
    cr_assert(tcp_tx_blocked(TCP_OF(&tb)));
    cr_assert_eq(TCP_OF(&tb)->stats.tx_blocked, 1);
    /* Nothing is in flight, so no ACK will come; and no timer tries again either (a
     * persist timeout used to, a whole RTO later, with the window reset after idle). */
    uint64_t failed = TCP_OF(&tb)->stats.tx_failed;
    tb_advance(&tb, t + 150 * MS);
    cr_assert_eq(TCP_OF(&tb)->stats.tx_failed, failed, "a timer tried the full device again");
    expect_nothing(&tb);

    tb.link.full = false;
    uint32_t off = 0;
    tb_poll(&tb, t + 150 * MS);
    cr_assert_eq(take_data(&tb, &p, &off, t + 150 * MS), 4 * MSS_TS, "all of it, at once");
    cr_assert_not(tcp_tx_blocked(TCP_OF(&tb)));
    testbed_free(&tb);
}

Test(tcp_backpressure, connections_send_in_the_order_the_device_turned_them_away)
{
    struct testbed tb;
    struct peer a, b, c3;
    fill_data();
    tcp_start(&tb, NULL);
    struct tcp_conn *ca = open_from(&tb, &a, PEER_PORT + 1, T0 + 10 * MS);
    struct tcp_conn *cb = open_from(&tb, &b, PEER_PORT + 2, T0 + 11 * MS);
    struct tcp_conn *cc = open_from(&tb, &c3, PEER_PORT + 3, T0 + 12 * MS);
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    tb.link.full = true;
    cr_assert_eq(tcp_send(TCP_OF(&tb), cb, data, MSS_TS, t), MSS_TS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), cc, data, MSS_TS, t), MSS_TS);
    cr_assert_eq(tcp_send(TCP_OF(&tb), ca, data, MSS_TS, t), MSS_TS);
    /* Turned away again while waiting: it keeps its place. */
    tb_poll(&tb, t + 1 * MS);
    expect_nothing(&tb);
    tb.link.full = false;
    tb_poll(&tb, t + 2 * MS);
    uint32_t ob = 0, oc = 0, oa = 0;
    struct peer *order[3] = {&b, &c3, &a};
    uint32_t *offs[3] = {&ob, &oc, &oa};
    for (int i = 0; i < 3; i++) {
        struct seg s = expect_seg(&tb);
        cr_assert_eq(s.r.dst_port, order[i]->port, "segment %d is for port %u", i,
                     s.r.dst_port);
        cr_assert_eq(s.len, MSS_TS);
        *offs[i] += s.len;
    }
    expect_nothing(&tb);
    testbed_free(&tb);
}

Test(tcp_backpressure, a_connection_freed_while_waiting_leaves_the_line)
{
    struct testbed tb;
    struct peer a, b;
    fill_data();
    tcp_start(&tb, NULL);
    struct tcp_conn *ca = open_from(&tb, &a, PEER_PORT + 1, T0 + 10 * MS);
    struct tcp_conn *cb = open_from(&tb, &b, PEER_PORT + 2, T0 + 11 * MS);
    uint64_t t = T0 + 100 * MS;
    tb_advance(&tb, t);
    tb.link.full = true;
    tcp_send(TCP_OF(&tb), ca, data, MSS_TS, t);
    tcp_send(TCP_OF(&tb), cb, data, MSS_TS, t);
    tcp_abort(TCP_OF(&tb), ca, t); /* its RST finds the device full too */
    expect_nothing(&tb);
    /* Its slot is taken by a newcomer before the device has room: the line must not
     * still lead through the old connection to it. */
    int err;
    struct tcp_conn *cd = tcp_connect(TCP_OF(&tb), b.ip, 8080, 0, NULL, t + 1 * MS, &err);
    cr_assert_eq(cd, ca, "the newcomer has the freed slot");
    tb.link.full = false;
    uint32_t off = 0;
    tb_poll(&tb, t + 2 * MS);
    cr_assert_eq(take_data(&tb, &b, &off, t + 2 * MS), MSS_TS, "only the survivor sends");
    cr_assert_not(tcp_tx_blocked(TCP_OF(&tb)));
    testbed_free(&tb);
}

Test(tcp_backpressure, an_ack_the_device_turns_away_goes_when_it_has_room)
{
    struct testbed tb;
    struct peer p;
    fill_data();
    tcp_start(&tb, NULL);
    struct tcp_conn *c = open_from(&tb, &p, PEER_PORT, T0 + 10 * MS);
    uint64_t t = T0 + 100 * MS;
    tb.link.full = true;
    /* Out of order: the duplicate ACK it calls for (RFC 5681 4.2) must not be lost. */
    peer_send_seg(&tb, &p, p.seq + 100, p.ack, TCP_ACK, p.window, data, 100, t);
    cr_assert(tcp_tx_blocked(TCP_OF(&tb)));
    tb.link.full = false;
    tb_poll(&tb, t + 1 * MS);
    struct seg s = expect_flags(&tb, TCP_ACK);
    cr_assert_eq(s.r.ack, p.seq, "the duplicate ACK names the hole");
    cr_assert_eq(s.at, t + 1 * MS);
    (void)c;
    testbed_free(&tb);
}
