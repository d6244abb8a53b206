/*
 * test_arp.c — ARP (RFC 826) with RFC 5227 announcements: the codec, then conversations
 * with a whole node on the testbed, then the layer alone with small storage where the
 * node's sizes would hide the edge (a 3-slot queue, a 4-entry cache, custom timers).
 *
 * Frames into the stack come from harness/frames.h; frames out of it are checked byte by
 * byte at wire offsets, never through arp_parse, so a codec bug cannot vouch for itself.
 * The testbed node is 52:54:00:12:34:56, 10.0.0.2/24, gateway 10.0.0.1. Peer MACs are
 * varied between tests so nothing can pass by sending to a MAC it made up.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "frames.h"
#include "netstack/arp.h"
#include "netstack/node.h"
#include "testbed.h"

#define MS NET_NS_PER_MS
#define SEC NET_NS_PER_SEC
#define T0 (100 * SEC)

#define OUR_IP NET_IP4(10, 0, 0, 2)
#define PEER_IP NET_IP4(10, 0, 0, 1) /* also the default gateway */
#define OTHER_IP NET_IP4(10, 0, 0, 3)

static const struct net_mac mac_ours = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
/* A second MAC for the gateway, different from frames.h's peer. */
static const struct net_mac mac_gw = {{0x02, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e}};

/*
 * Captured from Linux 6.18 on a veth pair: 3c:52:82:5a:1b:7e (192.168.1.23) asks who has
 * 192.168.1.1, and 52:54:00:ab:cd:ef answers. These are the 28-byte ARP bodies.
 */
/* clang-format off: one wire field per line */
static const uint8_t linux_request[ARP_LEN] = {
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,             /* Ether/IPv4, 6/4, request */
    0x3c, 0x52, 0x82, 0x5a, 0x1b, 0x7e, 0xc0, 0xa8, 0x01, 0x17, /* sha, spa 192.168.1.23 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01, /* tha zero, tpa 192.168.1.1 */
};
static const uint8_t linux_reply[ARP_LEN] = {
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,             /* Ether/IPv4, 6/4, reply */
    0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0xc0, 0xa8, 0x01, 0x01, /* sha, spa 192.168.1.1 */
    0x3c, 0x52, 0x82, 0x5a, 0x1b, 0x7e, 0xc0, 0xa8, 0x01, 0x17, /* tha, tpa 192.168.1.23 */
};
/* clang-format on */
static const struct net_mac linux_asker = {{0x3c, 0x52, 0x82, 0x5a, 0x1b, 0x7e}};
static const struct net_mac linux_answerer = {{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}};

/* ---- Codec ---------------------------------------------------------------------------- */

Test(arp, parses_a_linux_request_and_reply)
{
    struct arp_repr r;
    cr_assert_eq(arp_parse(linux_request, sizeof(linux_request), &r), ARP_LEN);
    cr_assert_eq(r.op, ARP_OP_REQUEST);
    cr_assert(net_mac_eq(&r.sha, &linux_asker));
    cr_assert_eq(r.spa, NET_IP4(192, 168, 1, 23));
    cr_assert(net_mac_is_zero(&r.tha));
    cr_assert_eq(r.tpa, NET_IP4(192, 168, 1, 1));

    cr_assert_eq(arp_parse(linux_reply, sizeof(linux_reply), &r), ARP_LEN);
    cr_assert_eq(r.op, ARP_OP_REPLY);
    cr_assert(net_mac_eq(&r.sha, &linux_answerer));
    cr_assert_eq(r.spa, NET_IP4(192, 168, 1, 1));
    cr_assert(net_mac_eq(&r.tha, &linux_asker));
    cr_assert_eq(r.tpa, NET_IP4(192, 168, 1, 23));

    /* Ethernet padding after the body is not the codec's business. */
    uint8_t padded[46] = {0};
    memcpy(padded, linux_request, ARP_LEN);
    cr_assert_eq(arp_parse(padded, sizeof(padded), &r), ARP_LEN);
}

Test(arp, emits_the_linux_request_and_reply)
{
    struct arp_repr req = {.op = ARP_OP_REQUEST,
                           .sha = linux_asker,
                           .spa = NET_IP4(192, 168, 1, 23),
                           .tha = {{0}},
                           .tpa = NET_IP4(192, 168, 1, 1)};
    struct arp_repr rep = {.op = ARP_OP_REPLY,
                           .sha = linux_answerer,
                           .spa = NET_IP4(192, 168, 1, 1),
                           .tha = linux_asker,
                           .tpa = NET_IP4(192, 168, 1, 23)};
    uint8_t buf[ARP_LEN + 1];

    memset(buf, 0xa5, sizeof(buf));
    cr_assert_eq(arp_emit(&req, buf, ARP_LEN), ARP_LEN);
    cr_assert_arr_eq(buf, linux_request, ARP_LEN);
    cr_assert_eq(buf[ARP_LEN], 0xa5, "wrote past the body");
    memset(buf, 0xa5, sizeof(buf));
    cr_assert_eq(arp_emit(&rep, buf, sizeof(buf)), ARP_LEN);
    cr_assert_arr_eq(buf, linux_reply, ARP_LEN);
}

Test(arp, round_trips_through_parse_and_emit)
{
    struct arp_repr in = {.op = ARP_OP_REPLY,
                          .sha = {{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}},
                          .spa = NET_IP4(10, 20, 30, 40),
                          .tha = {{0x0a, 0x66, 0x77, 0x88, 0x99, 0xaa}},
                          .tpa = NET_IP4(172, 16, 254, 1)};
    uint8_t buf[ARP_LEN];
    struct arp_repr out;
    cr_assert_eq(arp_emit(&in, buf, sizeof(buf)), ARP_LEN);
    cr_assert_eq(arp_parse(buf, sizeof(buf), &out), ARP_LEN);
    cr_assert_eq(out.op, in.op);
    cr_assert(net_mac_eq(&out.sha, &in.sha));
    cr_assert_eq(out.spa, in.spa);
    cr_assert(net_mac_eq(&out.tha, &in.tha));
    cr_assert_eq(out.tpa, in.tpa);

    uint8_t again[ARP_LEN];
    cr_assert_eq(arp_parse(linux_reply, ARP_LEN, &out), ARP_LEN);
    cr_assert_eq(arp_emit(&out, again, sizeof(again)), ARP_LEN);
    cr_assert_arr_eq(again, linux_reply, ARP_LEN);
}

Test(arp, rejects_truncated_and_foreign_formats)
{
    struct arp_repr r;
    for (size_t len = 0; len < ARP_LEN; len++)
        cr_assert_eq(arp_parse(linux_request, len, &r), NET_EMALFORMED, "len %zu", len);

    /* Each field that says "Ethernet and IPv4" damaged in turn. */
    const struct {
        size_t off;
        uint8_t val;
    } damage[] = {
        {ARP_OFF_HTYPE + 1, 6},    /* IEEE 802 hardware */
        {ARP_OFF_HTYPE, 1},        /* 0x0101: a byte-swapped reader might take it */
        {ARP_OFF_PTYPE, 0x86},     /* 0x8600 */
        {ARP_OFF_PTYPE + 1, 0xdd}, /* 0x08dd */
        {ARP_OFF_HLEN, 8},         /* EUI-64 hardware addresses */
        {ARP_OFF_PLEN, 16},        /* IPv6-sized protocol addresses */
    };
    for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
        uint8_t buf[ARP_LEN];
        memcpy(buf, linux_request, ARP_LEN);
        buf[damage[i].off] = damage[i].val;
        cr_assert_eq(arp_parse(buf, sizeof(buf), &r), NET_EINVAL, "damage %zu accepted", i);
    }

    uint8_t buf[ARP_LEN];
    memset(buf, 0xa5, sizeof(buf));
    struct arp_repr w = {.op = ARP_OP_REQUEST, .sha = linux_asker};
    cr_assert_eq(arp_emit(&w, buf, ARP_LEN - 1), NET_EMSGSIZE);
    for (size_t i = 0; i < sizeof(buf); i++)
        cr_assert_eq(buf[i], 0xa5, "a refused emit wrote byte %zu", i);
}

/* ---- Conversation helpers -------------------------------------------------------------- */

static void tb_up(struct testbed *tb)
{
    struct node_cfg cfg = testbed_default_cfg();
    cr_assert_eq(testbed_init(tb, &cfg, T0), NET_OK);
    cr_assert(net_mac_eq(&tb->cfg.mac, &mac_ours), "tests assume the default MAC");
}

/* `sha`/`spa` broadcasts "who has `tpa`?". */
static void rx_request(struct testbed *tb, uint64_t at, const struct net_mac *sha, net_ip4 spa,
                       net_ip4 tpa)
{
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = fr_arp(frame, &fr_mac_broadcast, ARP_OP_REQUEST, sha, spa, &fr_mac_zero, tpa);
    tb_send(tb, frame, len, at);
}

/* `sha` tells us, unicast, that `spa` is at `sha`. */
static void rx_reply(struct testbed *tb, uint64_t at, const struct net_mac *sha, net_ip4 spa)
{
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = fr_arp(frame, &mac_ours, ARP_OP_REPLY, sha, spa, &mac_ours, OUR_IP);
    tb_send(tb, frame, len, at);
}

/* The application pings `dst` at `at` (56 bytes, like ping(8)). */
static void ping_at(struct testbed *tb, uint64_t at, net_ip4 dst, uint16_t seq)
{
    tb_advance(tb, at);
    cr_assert_eq(node_ping(tb->node, dst, seq, 56, at), NET_OK);
}

/* The next frame is ARP from us: `op` for `tpa`, to `eth_dst`; `tha` NULL means any. */
static void expect_arp(struct testbed *tb, uint64_t at, const struct net_mac *eth_dst, uint16_t op,
                       const struct net_mac *tha, net_ip4 tpa)
{
    const struct fake_frame *f = tb_next(tb);
    cr_assert_not_null(f, "expected an ARP %s", op == ARP_OP_REQUEST ? "request" : "reply");
    cr_assert_eq(f->ts, at, "sent at %llu, expected %llu", (unsigned long long)f->ts,
                 (unsigned long long)at);
    cr_assert_eq(f->len, 60);
    cr_assert_arr_eq(f->data, eth_dst->b, 6, "Ethernet destination");
    cr_assert_arr_eq(f->data + 6, mac_ours.b, 6, "Ethernet source");
    cr_assert_eq(net_get16(f->data + 12), 0x0806);
    const uint8_t *a = f->data + 14;
    cr_assert_eq(net_get16(a + 0), 1, "htype");
    cr_assert_eq(net_get16(a + 2), 0x0800, "ptype");
    cr_assert_eq(a[4], 6);
    cr_assert_eq(a[5], 4);
    cr_assert_eq(net_get16(a + 6), op, "opcode");
    cr_assert_arr_eq(a + 8, mac_ours.b, 6, "sender MAC");
    cr_assert_eq(net_get32(a + 14), OUR_IP, "sender IP");
    if (tha)
        cr_assert_arr_eq(a + 18, tha->b, 6, "target MAC");
    cr_assert_eq(net_get32(a + 24), tpa, "target IP");
}

/* The next frame is an ICMP echo (`type` 8 request, 0 reply) from us to `ip_dst`, sent to
 * the Ethernet address `eth_dst`. */
static void expect_echo(struct testbed *tb, uint64_t at, const struct net_mac *eth_dst,
                        net_ip4 ip_dst, uint8_t type, uint16_t seq)
{
    const struct fake_frame *f = tb_next(tb);
    cr_assert_not_null(f, "expected echo seq %u", seq);
    cr_assert_eq(f->ts, at);
    cr_assert_arr_eq(f->data, eth_dst->b, 6, "Ethernet destination of echo seq %u", seq);
    cr_assert_arr_eq(f->data + 6, mac_ours.b, 6);
    cr_assert_eq(net_get16(f->data + 12), 0x0800, "seq %u: not IPv4", seq);
    const uint8_t *ip = f->data + 14;
    cr_assert_eq(ip[9], 1, "not ICMP");
    cr_assert_eq(net_get32(ip + 12), OUR_IP);
    cr_assert_eq(net_get32(ip + 16), ip_dst);
    const uint8_t *icmp = ip + (ip[0] & 0xf) * 4;
    cr_assert_eq(icmp[0], type);
    cr_assert_eq(net_get16(icmp + 6), seq, "echo out of order");
}

static bool knows(struct testbed *tb, net_ip4 ip, const struct net_mac *mac)
{
    struct net_mac got;
    if (!arp_lookup(&tb->node->arp, ip, &got))
        return false;
    cr_assert(net_mac_eq(&got, mac), "cached a different MAC for this address");
    return true;
}

/* ---- Answering and learning ----------------------------------------------------------- */

Test(arp, answers_request_for_our_address)
{
    struct testbed tb;
    tb_up(&tb);
    rx_request(&tb, T0 + 5 * MS, &fr_mac_peer, PEER_IP, OUR_IP);
    /* Unicast back to the asker, telling it our address (RFC 826 "swap" step). */
    expect_arp(&tb, T0 + 5 * MS, &fr_mac_peer, ARP_OP_REPLY, &fr_mac_peer, PEER_IP);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->arp.stats.tx_replies, 1);
    testbed_free(&tb);
}

Test(arp, learns_the_requester)
{
    struct testbed tb;
    tb_up(&tb);
    cr_assert_not(knows(&tb, OTHER_IP, &fr_mac_other));
    rx_request(&tb, T0 + 5 * MS, &fr_mac_other, OTHER_IP, OUR_IP);
    expect_arp(&tb, T0 + 5 * MS, &fr_mac_other, ARP_OP_REPLY, &fr_mac_other, OTHER_IP);
    cr_assert(knows(&tb, OTHER_IP, &fr_mac_other));
    cr_assert_eq(tb.node->arp.stats.learned, 1);

    /* Learned, so talking back to it needs no resolution. */
    ping_at(&tb, T0 + 10 * MS, OTHER_IP, 1);
    expect_echo(&tb, T0 + 10 * MS, &fr_mac_other, OTHER_IP, 8, 1);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(arp, learns_from_an_unsolicited_reply_aimed_at_us)
{
    struct testbed tb;
    tb_up(&tb);
    rx_reply(&tb, T0 + 5 * MS, &mac_gw, PEER_IP);
    cr_assert_null(tb_next(&tb), "a reply is never answered");
    cr_assert(knows(&tb, PEER_IP, &mac_gw));
    testbed_free(&tb);
}

Test(arp, ignores_requests_for_other_hosts_without_learning)
{
    struct testbed tb;
    tb_up(&tb);
    rx_request(&tb, T0 + 5 * MS, &fr_mac_peer, PEER_IP, OTHER_IP);
    cr_assert_null(tb_next(&tb));
    cr_assert_not(knows(&tb, PEER_IP, &fr_mac_peer));
    cr_assert_eq(tb.node->arp.stats.rx_not_for_us, 1);
    cr_assert_eq(tb.node->arp.stats.learned, 0);

    /* Nor a reply between two other hosts that happened to be broadcast. */
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = fr_arp(frame, &fr_mac_broadcast, ARP_OP_REPLY, &fr_mac_other, OTHER_IP,
                        &fr_mac_peer, PEER_IP);
    tb_send(&tb, frame, len, T0 + 6 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_not(knows(&tb, OTHER_IP, &fr_mac_other));
    cr_assert_eq(tb.node->arp.stats.learned, 0);
    testbed_free(&tb);
}

Test(arp, updates_a_known_entry_from_traffic_for_other_hosts)
{
    struct testbed tb;
    tb_up(&tb);
    rx_request(&tb, T0 + 5 * MS, &fr_mac_peer, PEER_IP, OUR_IP);
    expect_arp(&tb, T0 + 5 * MS, &fr_mac_peer, ARP_OP_REPLY, &fr_mac_peer, PEER_IP);
    cr_assert(knows(&tb, PEER_IP, &fr_mac_peer));

    /* Hearing the same mapping again confirms it but changes nothing. */
    rx_request(&tb, T0 + 8 * MS, &fr_mac_peer, PEER_IP, OTHER_IP);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->arp.stats.updated, 0);

    /* The peer moved to a new NIC and announces it (a gratuitous request, not for us):
     * RFC 826's merge step updates what we already hold. */
    rx_request(&tb, T0 + 10 * MS, &mac_gw, PEER_IP, PEER_IP);
    cr_assert_null(tb_next(&tb));
    cr_assert(knows(&tb, PEER_IP, &mac_gw));
    cr_assert_eq(tb.node->arp.stats.updated, 1);
    cr_assert_eq(tb.node->arp.stats.learned, 1);

    ping_at(&tb, T0 + 20 * MS, PEER_IP, 1);
    expect_echo(&tb, T0 + 20 * MS, &mac_gw, PEER_IP, 8, 1);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

/* ---- Announcements (RFC 5227) ---------------------------------------------------------- */

Test(arp, announces_our_address_twice_two_seconds_apart_on_start)
{
    struct testbed tb;
    tb_up(&tb);
    tb_advance(&tb, T0 + 10 * MS);
    node_start(tb.node, T0 + 10 * MS);
    /* Sender and target both our address, broadcast (RFC 5227 2.3). */
    expect_arp(&tb, T0 + 10 * MS, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_zero, OUR_IP);
    cr_assert_null(tb_next(&tb));

    tb_advance(&tb, T0 + 10 * MS + 2 * SEC - 1);
    cr_assert_null(tb_next(&tb), "second announcement early");
    tb_advance(&tb, T0 + 10 * MS + 2 * SEC);
    expect_arp(&tb, T0 + 10 * MS + 2 * SEC, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_zero,
               OUR_IP);

    tb_advance(&tb, T0 + 60 * SEC);
    cr_assert_null(tb_next(&tb), "ANNOUNCE_NUM is 2");
    cr_assert_eq(tb.node->arp.stats.tx_announcements, 2);
    testbed_free(&tb);
}

/* ---- Resolution ------------------------------------------------------------------------ */

Test(arp, resolves_the_next_hop_before_sending_ipv4)
{
    struct testbed tb;
    tb_up(&tb);
    ping_at(&tb, T0 + 1 * SEC, PEER_IP, 1);
    expect_arp(&tb, T0 + 1 * SEC, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_zero, PEER_IP);
    cr_assert_null(tb_next(&tb), "the echo must wait for the reply");
    cr_assert_not(knows(&tb, PEER_IP, &fr_mac_peer), "resolving is not resolved");

    rx_reply(&tb, T0 + 1 * SEC + 3 * MS, &fr_mac_peer, PEER_IP);
    expect_echo(&tb, T0 + 1 * SEC + 3 * MS, &fr_mac_peer, PEER_IP, 8, 1);
    cr_assert_null(tb_next(&tb));
    cr_assert(knows(&tb, PEER_IP, &fr_mac_peer));

    /* Resolved: the next packet goes straight out, no second request. */
    ping_at(&tb, T0 + 2 * SEC, PEER_IP, 2);
    expect_echo(&tb, T0 + 2 * SEC, &fr_mac_peer, PEER_IP, 8, 2);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->arp.stats.tx_requests, 1);
    testbed_free(&tb);
}

Test(arp, resolves_the_gateway_for_off_subnet_destinations)
{
    struct testbed tb;
    tb_up(&tb);
    const net_ip4 far = NET_IP4(192, 0, 2, 7);
    ping_at(&tb, T0 + 1 * SEC, far, 1);
    expect_arp(&tb, T0 + 1 * SEC, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_zero, PEER_IP);
    cr_assert_null(tb_next(&tb));

    /* A different MAC from the on-link test: the frame goes wherever the reply said. */
    rx_reply(&tb, T0 + 1 * SEC + 3 * MS, &mac_gw, PEER_IP);
    expect_echo(&tb, T0 + 1 * SEC + 3 * MS, &mac_gw, far, 8, 1);
    cr_assert_null(tb_next(&tb));
    struct net_mac unused;
    cr_assert_not(arp_lookup(&tb.node->arp, far, &unused), "never an entry for the far host");
    testbed_free(&tb);
}

Test(arp, retries_every_second_then_gives_up_after_three_requests)
{
    struct testbed tb;
    tb_up(&tb);
    ping_at(&tb, T0, PEER_IP, 1);
    expect_arp(&tb, T0, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_zero, PEER_IP);

    tb_advance(&tb, T0 + 1 * SEC - 1);
    cr_assert_null(tb_next(&tb), "retry early");
    tb_advance(&tb, T0 + 1 * SEC);
    expect_arp(&tb, T0 + 1 * SEC, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_zero, PEER_IP);
    tb_advance(&tb, T0 + 2 * SEC);
    expect_arp(&tb, T0 + 2 * SEC, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_zero, PEER_IP);

    tb_advance(&tb, T0 + 3 * SEC);
    cr_assert_null(tb_next(&tb), "a fourth request");
    cr_assert_eq(tb.node->arp.stats.tx_requests, 3);
    cr_assert_eq(tb.node->arp.stats.resolve_failed, 1);
    cr_assert_eq(tb.node->arp.stats.queue_dropped, 1);

    tb_advance(&tb, T0 + 30 * SEC);
    cr_assert_null(tb_next(&tb));

    /* A reply long after giving up is learned, but the echo it was for is gone. */
    rx_reply(&tb, T0 + 31 * SEC, &fr_mac_peer, PEER_IP);
    cr_assert_null(tb_next(&tb), "a dropped packet came back");
    cr_assert(knows(&tb, PEER_IP, &fr_mac_peer));
    testbed_free(&tb);
}

Test(arp, pending_queue_drops_oldest_and_flushes_the_rest_in_order)
{
    struct testbed tb;
    tb_up(&tb);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    const uint8_t data[8] = "quartz!";

    /* 10.0.0.3 pings us 17 times before we know its MAC: every echo reply waits for ARP. */
    for (uint16_t seq = 1; seq <= NODE_ARP_PENDING + 1; seq++) {
        size_t len = fr_echo(frame, &mac_ours, &fr_mac_other, OTHER_IP, OUR_IP, 8, 0x4242, seq,
                             data, sizeof(data));
        tb_send(&tb, frame, len, T0 + seq * MS);
        if (seq == 1)
            expect_arp(&tb, T0 + 1 * MS, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_zero, OTHER_IP);
        cr_assert_null(tb_next(&tb), "seq %u: one request per resolution", seq);
        cr_assert_eq(tb.node->arp.stats.queue_dropped, seq > NODE_ARP_PENDING ? 1 : 0);
    }

    rx_reply(&tb, T0 + 50 * MS, &fr_mac_other, OTHER_IP);
    for (uint16_t seq = 2; seq <= NODE_ARP_PENDING + 1; seq++)
        expect_echo(&tb, T0 + 50 * MS, &fr_mac_other, OTHER_IP, 0, seq);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

/* ---- Aging and refresh ----------------------------------------------------------------- */

Test(arp, entry_expires_sixty_seconds_after_confirmation)
{
    struct testbed tb;
    tb_up(&tb);
    rx_request(&tb, T0, &fr_mac_peer, PEER_IP, OUR_IP);
    expect_arp(&tb, T0, &fr_mac_peer, ARP_OP_REPLY, &fr_mac_peer, PEER_IP);

    tb_advance(&tb, T0 + 60 * SEC - 1);
    cr_assert(knows(&tb, PEER_IP, &fr_mac_peer));
    tb_advance(&tb, T0 + 60 * SEC);
    cr_assert_not(knows(&tb, PEER_IP, &fr_mac_peer));
    cr_assert_eq(tb.node->arp.stats.expired, 1);
    cr_assert_null(tb_next(&tb), "an unused entry expires quietly");

    /* The next packet starts over with a broadcast request. */
    ping_at(&tb, T0 + 61 * SEC, PEER_IP, 1);
    expect_arp(&tb, T0 + 61 * SEC, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_zero, PEER_IP);
    cr_assert_null(tb_next(&tb));
    rx_reply(&tb, T0 + 61 * SEC + 1 * MS, &mac_gw, PEER_IP);
    expect_echo(&tb, T0 + 61 * SEC + 1 * MS, &mac_gw, PEER_IP, 8, 1);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(arp, refreshes_a_busy_entry_with_unicast_request_after_45_seconds)
{
    struct testbed tb;
    tb_up(&tb);
    rx_request(&tb, T0, &fr_mac_peer, PEER_IP, OUR_IP);
    expect_arp(&tb, T0, &fr_mac_peer, ARP_OP_REPLY, &fr_mac_peer, PEER_IP);

    ping_at(&tb, T0 + 45 * SEC - 1, PEER_IP, 1);
    expect_echo(&tb, T0 + 45 * SEC - 1, &fr_mac_peer, PEER_IP, 8, 1);
    cr_assert_null(tb_next(&tb), "refreshed too early");

    /* Past 45 s: the packet still goes, and a request asks the cached MAC directly. */
    ping_at(&tb, T0 + 45 * SEC, PEER_IP, 2);
    expect_echo(&tb, T0 + 45 * SEC, &fr_mac_peer, PEER_IP, 8, 2);
    expect_arp(&tb, T0 + 45 * SEC, &fr_mac_peer, ARP_OP_REQUEST, NULL, PEER_IP);
    cr_assert_null(tb_next(&tb));

    /* At most one refresh per second however busy the entry is. */
    ping_at(&tb, T0 + 45 * SEC + 500 * MS, PEER_IP, 3);
    expect_echo(&tb, T0 + 45 * SEC + 500 * MS, &fr_mac_peer, PEER_IP, 8, 3);
    cr_assert_null(tb_next(&tb));
    ping_at(&tb, T0 + 46 * SEC, PEER_IP, 4);
    expect_echo(&tb, T0 + 46 * SEC, &fr_mac_peer, PEER_IP, 8, 4);
    expect_arp(&tb, T0 + 46 * SEC, &fr_mac_peer, ARP_OP_REQUEST, NULL, PEER_IP);
    cr_assert_null(tb_next(&tb));

    /* The peer confirms; the entry outlives its first 60 s and needs no new resolution. */
    rx_reply(&tb, T0 + 46 * SEC + 1 * MS, &fr_mac_peer, PEER_IP);
    cr_assert_null(tb_next(&tb));
    tb_advance(&tb, T0 + 90 * SEC);
    cr_assert_eq(tb.node->arp.stats.expired, 0);
    ping_at(&tb, T0 + 90 * SEC, PEER_IP, 5);
    expect_echo(&tb, T0 + 90 * SEC, &fr_mac_peer, PEER_IP, 8, 5);
    cr_assert_null(tb_next(&tb));
    testbed_free(&tb);
}

Test(arp, unanswered_refresh_lets_the_entry_expire)
{
    struct testbed tb;
    tb_up(&tb);
    rx_request(&tb, T0, &fr_mac_peer, PEER_IP, OUR_IP);
    expect_arp(&tb, T0, &fr_mac_peer, ARP_OP_REPLY, &fr_mac_peer, PEER_IP);

    ping_at(&tb, T0 + 50 * SEC, PEER_IP, 1);
    expect_echo(&tb, T0 + 50 * SEC, &fr_mac_peer, PEER_IP, 8, 1);
    expect_arp(&tb, T0 + 50 * SEC, &fr_mac_peer, ARP_OP_REQUEST, NULL, PEER_IP);

    /* The peer is gone: the refresh does not extend anything. */
    tb_advance(&tb, T0 + 60 * SEC);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->arp.stats.expired, 1);
    cr_assert_not(knows(&tb, PEER_IP, &fr_mac_peer));
    testbed_free(&tb);
}

/* ---- Cache bounds ---------------------------------------------------------------------- */

static struct net_mac host_mac(unsigned i)
{
    return (struct net_mac){{0x02, 0x00, 0x00, 0x00, 0x01, (uint8_t)i}};
}

Test(arp, full_cache_evicts_the_entry_nearest_expiry)
{
    struct testbed tb;
    tb_up(&tb);
    /* 64 hosts introduce themselves one millisecond apart: the first is nearest expiry. */
    for (unsigned i = 0; i < NODE_ARP_ENTRIES; i++) {
        struct net_mac m = host_mac(i);
        rx_request(&tb, T0 + i * MS, &m, NET_IP4(10, 0, 0, 100 + i), OUR_IP);
        expect_arp(&tb, T0 + i * MS, &m, ARP_OP_REPLY, &m, NET_IP4(10, 0, 0, 100 + i));
    }
    cr_assert_eq(tb.node->arp.stats.learned, NODE_ARP_ENTRIES);
    cr_assert_eq(tb.node->arp.stats.evicted, 0);

    /* One more: the cache makes room rather than refusing the newcomer. */
    struct net_mac m = host_mac(NODE_ARP_ENTRIES);
    net_ip4 newcomer = NET_IP4(10, 0, 0, 100 + NODE_ARP_ENTRIES);
    rx_request(&tb, T0 + 1 * SEC, &m, newcomer, OUR_IP);
    expect_arp(&tb, T0 + 1 * SEC, &m, ARP_OP_REPLY, &m, newcomer);
    cr_assert(knows(&tb, newcomer, &m));
    cr_assert_eq(tb.node->arp.stats.evicted, 1);

    struct net_mac first = host_mac(0);
    cr_assert_not(knows(&tb, NET_IP4(10, 0, 0, 100), &first), "the oldest should have gone");
    for (unsigned i = 1; i < NODE_ARP_ENTRIES; i++) {
        struct net_mac mi = host_mac(i);
        cr_assert(knows(&tb, NET_IP4(10, 0, 0, 100 + i), &mi), "host %u was evicted", i);
    }
    testbed_free(&tb);
}

/* ---- Probes and conflicts (RFC 5227) --------------------------------------------------- */

Test(arp, answers_a_probe_for_our_address_without_learning_it)
{
    struct testbed tb;
    tb_up(&tb);
    /* A host checking whether 10.0.0.2 is free: sender IP 0.0.0.0. */
    rx_request(&tb, T0 + 5 * MS, &fr_mac_peer, 0, OUR_IP);
    expect_arp(&tb, T0 + 5 * MS, &fr_mac_peer, ARP_OP_REPLY, &fr_mac_peer, 0);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->arp.stats.tx_replies, 1);
    cr_assert_eq(tb.node->arp.stats.learned, 0);
    for (size_t i = 0; i < NODE_ARP_ENTRIES; i++)
        cr_assert_eq(tb.node->arp_entries[i].state, ARP_FREE, "a probe created entry %zu", i);

    /* A probe for an address that is not ours is none of our business. */
    rx_request(&tb, T0 + 6 * MS, &fr_mac_peer, 0, OTHER_IP);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->arp.stats.learned, 0);
    testbed_free(&tb);
}

Test(arp, counts_a_conflict_and_does_not_learn_it)
{
    struct testbed tb;
    tb_up(&tb);
    /* Someone else announces our address... */
    rx_request(&tb, T0 + 5 * MS, &fr_mac_other, OUR_IP, OUR_IP);
    /* ...replies to us claiming it... */
    rx_reply(&tb, T0 + 6 * MS, &fr_mac_other, OUR_IP);
    /* ...and asks for a neighbour from it. */
    rx_request(&tb, T0 + 7 * MS, &fr_mac_other, OUR_IP, PEER_IP);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->arp.stats.rx_conflict, 3);
    cr_assert_not(knows(&tb, OUR_IP, &fr_mac_other));
    cr_assert_eq(tb.node->arp.stats.learned, 0);
    testbed_free(&tb);
}

/* ---- Damaged ARP ----------------------------------------------------------------------- */

/* A request from the peer for us, as a whole frame the node would answer. */
static size_t good_request(uint8_t *frame)
{
    return fr_arp(frame, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_peer, PEER_IP, &fr_mac_zero,
                  OUR_IP);
}

/* After the damaged frames: the intact one is still answered, so silence was the damage. */
static void expect_intact_answered(struct testbed *tb, uint64_t at)
{
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    tb_send(tb, frame, good_request(frame), at);
    expect_arp(tb, at, &fr_mac_peer, ARP_OP_REPLY, &fr_mac_peer, PEER_IP);
    cr_assert_null(tb_next(tb));
}

Test(arp, drops_truncated_packets)
{
    struct testbed tb;
    tb_up(&tb);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = good_request(frame);

    tb_send(&tb, frame, len - 1, T0 + 1 * MS); /* 27 bytes of ARP */
    tb_send(&tb, frame, 14 + 8, T0 + 2 * MS);  /* the fixed part only */
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->arp.stats.rx_truncated, 2);
    cr_assert_not(knows(&tb, PEER_IP, &fr_mac_peer));

    expect_intact_answered(&tb, T0 + 3 * MS);
    testbed_free(&tb);
}

Test(arp, drops_formats_other_than_ethernet_and_ipv4)
{
    struct testbed tb;
    tb_up(&tb);
    const struct {
        size_t off;
        uint8_t val;
    } damage[] = {
        {ARP_OFF_HTYPE + 1, 6}, /* IEEE 802 */
        {ARP_OFF_PTYPE, 0x86},  /* 0x8600 */
        {ARP_OFF_HLEN, 8},
        {ARP_OFF_PLEN, 16},
    };
    for (size_t i = 0; i < 4; i++) {
        uint8_t frame[FAKE_LINK_FRAME_MAX];
        size_t len = good_request(frame);
        frame[14 + damage[i].off] = damage[i].val;
        tb_send(&tb, frame, len, T0 + (i + 1) * MS);
        cr_assert_null(tb_next(&tb), "damage %zu answered", i);
    }
    cr_assert_eq(tb.node->arp.stats.rx_bad_format, 4);
    cr_assert_not(knows(&tb, PEER_IP, &fr_mac_peer));

    expect_intact_answered(&tb, T0 + 10 * MS);
    testbed_free(&tb);
}

Test(arp, drops_unknown_opcodes)
{
    struct testbed tb;
    tb_up(&tb);
    /* 3 and 4 are RARP; 0x0100 is a request read with the wrong byte order. */
    const uint16_t ops[] = {0, 3, 4, 0x0100};
    for (size_t i = 0; i < 4; i++) {
        uint8_t frame[FAKE_LINK_FRAME_MAX];
        size_t len = good_request(frame);
        net_put16(frame + 14 + ARP_OFF_OPER, ops[i]);
        tb_send(&tb, frame, len, T0 + (i + 1) * MS);
        cr_assert_null(tb_next(&tb), "opcode %#x answered", ops[i]);
    }
    cr_assert_eq(tb.node->arp.stats.rx_bad_op, 4);
    cr_assert_not(knows(&tb, PEER_IP, &fr_mac_peer));

    expect_intact_answered(&tb, T0 + 10 * MS);
    testbed_free(&tb);
}

Test(arp, drops_impossible_senders)
{
    struct testbed tb;
    tb_up(&tb);
    const struct net_mac group = {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};
    const struct {
        const struct net_mac *sha;
        net_ip4 spa;
    } bad[] = {
        {&group, PEER_IP},
        {&fr_mac_broadcast, PEER_IP},
        {&fr_mac_zero, PEER_IP},
        {&fr_mac_peer, NET_IP4_BROADCAST},
        {&fr_mac_peer, NET_IP4(224, 0, 0, 251)},
        {&fr_mac_peer, NET_IP4(239, 255, 255, 250)},
    };
    const size_t n = sizeof(bad) / sizeof(bad[0]);
    for (size_t i = 0; i < n; i++) {
        uint8_t frame[FAKE_LINK_FRAME_MAX];
        size_t len = fr_arp(frame, &fr_mac_broadcast, ARP_OP_REQUEST, bad[i].sha, bad[i].spa,
                            &fr_mac_zero, OUR_IP);
        /* A sound Ethernet source, so it is ARP that has to notice. */
        memcpy(frame + 6, fr_mac_peer.b, 6);
        tb_send(&tb, frame, len, T0 + (i + 1) * MS);
        cr_assert_null(tb_next(&tb), "sender %zu answered", i);
    }
    cr_assert_eq(tb.node->arp.stats.rx_bad_sender, n);
    cr_assert_eq(tb.node->arp.stats.learned, 0);
    for (size_t i = 0; i < NODE_ARP_ENTRIES; i++)
        cr_assert_eq(tb.node->arp_entries[i].state, ARP_FREE);

    expect_intact_answered(&tb, T0 + 10 * MS);
    testbed_free(&tb);
}

/* ---- The layer alone, with small storage ------------------------------------------------ */

#define LAB_ENTRIES 4
#define LAB_PENDING 3
#define LAB_SLOT 64
#define LAB_LOG 64

struct sent {
    struct net_mac dst;
    uint16_t type;
    bool offloaded; /* with an offload request, in `off` */
    struct net_offload off;
    size_t len;
    uint8_t data[LAB_SLOT];
};

struct lab {
    struct arp arp;
    struct arp_cfg cfg;
    struct arp_ops ops;
    struct arp_entry entries[LAB_ENTRIES];
    struct arp_pending pending[LAB_PENDING];
    uint8_t queue[LAB_PENDING * LAB_SLOT];
    bool full;
    uint8_t buf[LAB_SLOT]; /* the device's one buffer, re-issued until sent */
    struct sent log[LAB_LOG];
    size_t n_sent, taken;
};

static uint8_t *lab_reserve(void *ctx, size_t len)
{
    struct lab *l = ctx;
    cr_assert(len <= sizeof(l->buf), "reserve of %zu bytes", len);
    return l->full ? NULL : l->buf;
}

static void lab_send(void *ctx, uint8_t *payload, size_t len, const struct net_mac *dst,
                     uint16_t type, const struct net_offload *off)
{
    struct lab *l = ctx;
    cr_assert_eq(payload, l->buf, "sent a buffer that was not reserved");
    cr_assert(l->n_sent < LAB_LOG);
    struct sent *s = &l->log[l->n_sent++];
    s->dst = *dst;
    s->type = type;
    s->offloaded = off != NULL;
    s->off = off ? *off : (struct net_offload){0};
    s->len = len;
    memcpy(s->data, payload, len);
    memset(l->buf, 0xa5, sizeof(l->buf)); /* a layer still using it would show */
}

/* Defaults: our address and MAC as on the testbed; tests adjust l->cfg before lab_start. */
static void lab_setup(struct lab *l)
{
    memset(l, 0, sizeof(*l));
    l->ops = (struct arp_ops){.reserve = lab_reserve, .send = lab_send};
    l->cfg = (struct arp_cfg){.ip = OUR_IP,
                              .mac = mac_ours,
                              .entries = l->entries,
                              .n_entries = LAB_ENTRIES,
                              .pending = l->pending,
                              .n_pending = LAB_PENDING,
                              .pending_mem = l->queue,
                              .pending_slot = LAB_SLOT};
}

static void lab_start(struct lab *l)
{
    cr_assert_eq(arp_init(&l->arp, &l->cfg, &l->ops, l), NET_OK);
}

static const struct sent *lab_next(struct lab *l)
{
    return l->taken < l->n_sent ? &l->log[l->taken++] : NULL;
}

/* What ipv4 does: write a packet into a reserved buffer and hand it to arp_output. The
 * packet is `len` bytes of `tag`, so the tests can tell packets apart. */
static int lab_output(struct lab *l, net_ip4 hop, uint8_t tag, size_t len, uint64_t now)
{
    uint8_t *p = lab_reserve(l, len);
    cr_assert_not_null(p);
    memset(p, tag, len);
    return arp_output(&l->arp, hop, p, len, NULL, now);
}

/* An ARP body arrives (built by frames.h, stripped of its Ethernet header). */
static void lab_rx(struct lab *l, uint64_t now, uint16_t op, const struct net_mac *sha, net_ip4 spa,
                   net_ip4 tpa)
{
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    fr_arp(frame, &mac_ours, op, sha, spa, &fr_mac_zero, tpa);
    arp_input(&l->arp, frame + 14, ARP_LEN, now);
}

static void lab_expect_request(struct lab *l, const struct net_mac *eth_dst, net_ip4 tpa)
{
    const struct sent *s = lab_next(l);
    cr_assert_not_null(s, "expected a request");
    cr_assert_eq(s->type, 0x0806);
    cr_assert(net_mac_eq(&s->dst, eth_dst));
    cr_assert_eq(s->len, ARP_LEN);
    cr_assert_eq(net_get16(s->data + 6), ARP_OP_REQUEST);
    cr_assert_eq(net_get32(s->data + 24), tpa);
}

static void lab_expect_packet(struct lab *l, const struct net_mac *eth_dst, uint8_t tag, size_t len)
{
    const struct sent *s = lab_next(l);
    cr_assert_not_null(s, "expected packet %u", tag);
    cr_assert_eq(s->type, 0x0800);
    cr_assert(net_mac_eq(&s->dst, eth_dst), "packet %u to the wrong MAC", tag);
    cr_assert_eq(s->len, len);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(s->data[i], tag, "expected packet %u, got %u", tag, s->data[i]);
}

Test(arp, init_rejects_missing_storage_or_ops)
{
    struct lab l;
    struct arp_ops no_send = {.reserve = lab_reserve};
    lab_setup(&l);
    cr_assert_eq(arp_init(&l.arp, NULL, &l.ops, &l), NET_EINVAL);
    cr_assert_eq(arp_init(&l.arp, &l.cfg, NULL, &l), NET_EINVAL);
    cr_assert_eq(arp_init(&l.arp, &l.cfg, &no_send, &l), NET_EINVAL);
    l.cfg.entries = NULL;
    cr_assert_eq(arp_init(&l.arp, &l.cfg, &l.ops, &l), NET_EINVAL);
    lab_setup(&l);
    l.cfg.n_entries = 0;
    cr_assert_eq(arp_init(&l.arp, &l.cfg, &l.ops, &l), NET_EINVAL);
    lab_setup(&l);
    l.cfg.pending_mem = NULL;
    cr_assert_eq(arp_init(&l.arp, &l.cfg, &l.ops, &l), NET_EINVAL);
    lab_setup(&l);
    l.cfg.pending_slot = 0;
    cr_assert_eq(arp_init(&l.arp, &l.cfg, &l.ops, &l), NET_EINVAL);

    /* No queue at all is allowed: packets awaiting resolution are then just dropped. */
    lab_setup(&l);
    l.cfg.n_pending = 0;
    l.cfg.pending = NULL;
    l.cfg.pending_mem = NULL;
    lab_start(&l);
    cr_assert_eq(lab_output(&l, PEER_IP, 1, 40, T0), NET_ENOBUFS);
    cr_assert_eq(l.arp.stats.queue_dropped, 1);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);
}

Test(arp, queues_per_next_hop_and_flushes_only_the_one_resolved)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    cr_assert_eq(lab_output(&l, PEER_IP, 1, 40, T0), NET_EAGAIN);
    cr_assert_eq(lab_output(&l, OTHER_IP, 2, 41, T0 + 1 * MS), NET_EAGAIN);
    cr_assert_eq(lab_output(&l, PEER_IP, 3, 42, T0 + 2 * MS), NET_EAGAIN);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);
    lab_expect_request(&l, &fr_mac_broadcast, OTHER_IP);
    cr_assert_null(lab_next(&l));

    lab_rx(&l, T0 + 10 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    lab_expect_packet(&l, &fr_mac_peer, 1, 40);
    lab_expect_packet(&l, &fr_mac_peer, 3, 42);
    cr_assert_null(lab_next(&l), "another host's packet went out");

    lab_rx(&l, T0 + 20 * MS, ARP_OP_REPLY, &fr_mac_other, OTHER_IP, OUR_IP);
    lab_expect_packet(&l, &fr_mac_other, 2, 41);
    cr_assert_null(lab_next(&l));
    cr_assert_eq(l.arp.stats.queue_dropped, 0);
}

Test(arp, full_queue_drops_the_oldest_packet_whoever_it_was_for)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    lab_output(&l, OTHER_IP, 1, 40, T0);
    lab_output(&l, PEER_IP, 2, 40, T0 + 1 * MS);
    lab_output(&l, PEER_IP, 3, 40, T0 + 2 * MS);
    cr_assert_eq(l.arp.stats.queue_dropped, 0);
    lab_output(&l, PEER_IP, 4, 40, T0 + 3 * MS);
    cr_assert_eq(l.arp.stats.queue_dropped, 1);
    lab_expect_request(&l, &fr_mac_broadcast, OTHER_IP);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);

    lab_rx(&l, T0 + 10 * MS, ARP_OP_REPLY, &fr_mac_other, OTHER_IP, OUR_IP);
    cr_assert_null(lab_next(&l), "the oldest packet survived");
    lab_rx(&l, T0 + 11 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    lab_expect_packet(&l, &fr_mac_peer, 2, 40);
    lab_expect_packet(&l, &fr_mac_peer, 3, 40);
    lab_expect_packet(&l, &fr_mac_peer, 4, 40);
    cr_assert_null(lab_next(&l));
}

Test(arp, packet_larger_than_a_queue_slot_is_dropped)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    cr_assert_eq(lab_output(&l, PEER_IP, 1, LAB_SLOT + 0, T0), NET_EAGAIN);
    /* One byte over a slot: the lab device could not have reserved it, but a device on a
     * link with a larger MTU than the queue's slots could. */
    uint8_t big[LAB_SLOT + 1];
    memset(big, 2, sizeof(big));
    cr_assert_eq(arp_output(&l.arp, PEER_IP, big, sizeof(big), NULL, T0 + 1 * MS), NET_ENOBUFS);
    cr_assert_eq(l.arp.stats.queue_dropped, 1);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);
    cr_assert_null(lab_next(&l));

    lab_rx(&l, T0 + 10 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    lab_expect_packet(&l, &fr_mac_peer, 1, LAB_SLOT);
    cr_assert_null(lab_next(&l));
}

Test(arp, broadcast_next_hop_needs_no_resolution)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    cr_assert_eq(lab_output(&l, NET_IP4_BROADCAST, 7, 30, T0), NET_OK);
    lab_expect_packet(&l, &fr_mac_broadcast, 7, 30);
    cr_assert_null(lab_next(&l), "resolved the broadcast address");
    for (size_t i = 0; i < LAB_ENTRIES; i++)
        cr_assert_eq(l.entries[i].state, ARP_FREE);
}

Test(arp, output_to_an_address_arp_cannot_resolve_is_dropped)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    /* ipv4_route never asks for these, but if it did a packet must not sit in the queue
     * with no request out for it, nor may we ARP for our own address. */
    const net_ip4 hops[] = {0, NET_IP4(224, 0, 0, 1), OUR_IP};
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(lab_output(&l, hops[i], (uint8_t)(10 + i), 30, T0), NET_ENOBUFS, "hop %zu", i);
    cr_assert_null(lab_next(&l));
    cr_assert_eq(l.arp.stats.queue_dropped, 3);

    /* Nothing was left holding a slot: a whole queue's worth for a real peer survives. */
    for (uint8_t tag = 1; tag <= LAB_PENDING; tag++)
        lab_output(&l, PEER_IP, tag, 30, T0 + tag * MS);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);
    lab_rx(&l, T0 + 10 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    for (uint8_t tag = 1; tag <= LAB_PENDING; tag++)
        lab_expect_packet(&l, &fr_mac_peer, tag, 30);
    cr_assert_null(lab_next(&l));
    cr_assert_eq(l.arp.stats.queue_dropped, 3);
}

Test(arp, stale_entry_is_not_used_even_before_a_poll)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    lab_rx(&l, T0, ARP_OP_REQUEST, &fr_mac_peer, PEER_IP, OUR_IP);
    cr_assert_not_null(lab_next(&l)); /* our reply */

    /* No arp_poll in between: output itself must notice the entry has run out. */
    cr_assert_eq(lab_output(&l, PEER_IP, 1, 30, T0 + 60 * SEC - 1), NET_OK);
    lab_expect_packet(&l, &fr_mac_peer, 1, 30);
    lab_expect_request(&l, &fr_mac_peer, PEER_IP); /* the refresh */
    cr_assert_eq(lab_output(&l, PEER_IP, 2, 30, T0 + 60 * SEC), NET_EAGAIN);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);
    cr_assert_null(lab_next(&l));
    cr_assert_eq(l.arp.stats.expired, 1);
}

Test(arp, packets_the_device_refused_go_out_on_the_next_poll)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    lab_output(&l, PEER_IP, 1, 30, T0);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);

    l.full = true;
    lab_rx(&l, T0 + 1 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    cr_assert_eq(l.arp.stats.tx_no_buffer, 1);
    struct net_mac got;
    cr_assert(arp_lookup(&l.arp, PEER_IP, &got), "resolution must stand");

    l.full = false;
    arp_poll(&l.arp, T0 + 2 * MS);
    lab_expect_packet(&l, &fr_mac_peer, 1, 30);
    arp_poll(&l.arp, T0 + 3 * MS);
    cr_assert_null(lab_next(&l), "sent twice");
    cr_assert_eq(l.arp.stats.queue_dropped, 0);
}

Test(arp, refused_packets_set_a_retry_deadline_a_millisecond_out)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    lab_output(&l, PEER_IP, 1, 30, T0);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);
    l.full = true;
    lab_rx(&l, T0 + 1 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    /* Without this deadline a caller sleeping until arp_next_deadline() would hold the
     * packet until some unrelated timer, up to the entry's expiry a minute later. */
    cr_assert_eq(arp_next_deadline(&l.arp), T0 + 2 * MS);
    arp_poll(&l.arp, T0 + 2 * MS); /* still refused: re-armed, not spinning at `now` */
    cr_assert_eq(arp_next_deadline(&l.arp), T0 + 3 * MS);
    l.full = false;
    arp_poll(&l.arp, T0 + 3 * MS);
    lab_expect_packet(&l, &fr_mac_peer, 1, 30);
    cr_assert_gt(arp_next_deadline(&l.arp), T0 + 1 * SEC, "nothing left to retry");
}

Test(arp, drops_a_sender_claiming_our_own_mac)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    uint8_t pkt[ARP_LEN];
    struct arp_repr r = {.op = ARP_OP_REQUEST, .sha = mac_ours, .spa = PEER_IP,
                         .tha = fr_mac_zero, .tpa = OUR_IP};
    arp_emit(&r, pkt, sizeof(pkt));
    arp_input(&l.arp, pkt, sizeof(pkt), T0);
    cr_assert_eq(l.arp.stats.rx_bad_sender, 1);
    cr_assert_null(lab_next(&l), "answered a spoof of ourselves");
    struct net_mac got;
    cr_assert(!arp_lookup(&l.arp, PEER_IP, &got));
}

Test(arp, refused_packets_die_with_their_entry_and_are_counted)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    lab_output(&l, PEER_IP, 1, 30, T0);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);
    l.full = true;
    lab_rx(&l, T0 + 1 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);

    /* No poll found the device free before the entry ran out. */
    arp_poll(&l.arp, T0 + 1 * MS + 60 * SEC);
    cr_assert_eq(l.arp.stats.expired, 1);
    cr_assert_eq(l.arp.stats.queue_dropped, 1, "the packet vanished uncounted");

    /* Learning the peer again must not resurrect a minute-old packet. */
    l.full = false;
    lab_rx(&l, T0 + 61 * SEC, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    arp_poll(&l.arp, T0 + 61 * SEC + 1 * MS);
    cr_assert_null(lab_next(&l));
}

Test(arp, next_deadline_tracks_retries_announcements_and_expiry)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    cr_assert_eq(arp_next_deadline(&l.arp), UINT64_MAX);

    lab_output(&l, PEER_IP, 1, 30, T0);
    cr_assert_eq(arp_next_deadline(&l.arp), T0 + 1 * SEC, "first retry");
    lab_rx(&l, T0 + 10 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    while (lab_next(&l))
        ; /* the queued packet, now sent */
    /* The reply moved the entry's deadline out; the answer may still be the retry's
     * time, never later. A poll then does nothing and makes it exact. */
    cr_assert_leq(arp_next_deadline(&l.arp), T0 + 1 * SEC);
    arp_poll(&l.arp, arp_next_deadline(&l.arp));
    cr_assert_null(lab_next(&l), "an early poll sends nothing");
    cr_assert_eq(l.arp.stats.tx_requests, 1, "no retry for a resolved entry");
    cr_assert_eq(arp_next_deadline(&l.arp), T0 + 10 * MS + 60 * SEC, "expiry");

    arp_announce(&l.arp, T0 + 20 * MS);
    cr_assert_eq(arp_next_deadline(&l.arp), T0 + 20 * MS + 2 * SEC, "second announcement");
    arp_poll(&l.arp, T0 + 20 * MS + 2 * SEC);
    cr_assert_eq(arp_next_deadline(&l.arp), T0 + 10 * MS + 60 * SEC);
    arp_poll(&l.arp, T0 + 10 * MS + 60 * SEC);
    cr_assert_eq(arp_next_deadline(&l.arp), UINT64_MAX);
}

Test(arp, honours_configured_timers)
{
    struct lab l;
    lab_setup(&l);
    l.cfg.retry_ns = 100 * MS;
    l.cfg.max_tries = 5;
    l.cfg.reachable_ns = 10 * SEC;
    l.cfg.announce_count = 3;
    l.cfg.announce_interval_ns = 1 * SEC;
    lab_start(&l);

    lab_output(&l, PEER_IP, 1, 30, T0);
    for (uint64_t t = T0 + 100 * MS; t <= T0 + 500 * MS; t += 100 * MS)
        arp_poll(&l.arp, t);
    for (int i = 0; i < 5; i++)
        lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);
    cr_assert_null(lab_next(&l));
    cr_assert_eq(l.arp.stats.resolve_failed, 1);

    lab_rx(&l, T0 + 1 * SEC, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    arp_poll(&l.arp, T0 + 11 * SEC - 1);
    cr_assert_eq(l.arp.stats.expired, 0);
    arp_poll(&l.arp, T0 + 11 * SEC);
    cr_assert_eq(l.arp.stats.expired, 1);

    arp_announce(&l.arp, T0 + 20 * SEC);
    arp_poll(&l.arp, T0 + 21 * SEC);
    arp_poll(&l.arp, T0 + 22 * SEC);
    arp_poll(&l.arp, T0 + 23 * SEC);
    for (int i = 0; i < 3; i++)
        lab_expect_request(&l, &fr_mac_broadcast, OUR_IP);
    cr_assert_null(lab_next(&l));
}

Test(arp, announcement_the_device_refused_is_sent_later)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    l.full = true;
    arp_announce(&l.arp, T0);
    cr_assert_eq(l.arp.stats.tx_no_buffer, 1);
    /* Not at once: a device that stays full must not turn the poll loop into a spin. */
    cr_assert_eq(arp_next_deadline(&l.arp), T0 + 2 * SEC);
    l.full = false;
    arp_poll(&l.arp, arp_next_deadline(&l.arp));
    arp_poll(&l.arp, arp_next_deadline(&l.arp));
    lab_expect_request(&l, &fr_mac_broadcast, OUR_IP);
    lab_expect_request(&l, &fr_mac_broadcast, OUR_IP);
    cr_assert_null(lab_next(&l));
    cr_assert_eq(l.arp.stats.tx_announcements, 2);
    cr_assert_eq(arp_next_deadline(&l.arp), UINT64_MAX);
}

Test(arp, without_an_address_announces_and_answers_nothing)
{
    struct lab l;
    lab_setup(&l);
    l.cfg.ip = 0;
    lab_start(&l);
    arp_announce(&l.arp, T0);
    cr_assert_eq(arp_next_deadline(&l.arp), UINT64_MAX);
    /* A probe asks about 0.0.0.0 only by accident; an unnumbered host owns no address. */
    lab_rx(&l, T0 + 1 * MS, ARP_OP_REQUEST, &fr_mac_peer, 0, 0);
    lab_rx(&l, T0 + 2 * MS, ARP_OP_REQUEST, &fr_mac_peer, PEER_IP, 0);
    cr_assert_null(lab_next(&l));
    cr_assert_eq(l.arp.stats.learned, 0);
}

Test(arp, resolve_starts_a_resolution_with_no_packet)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    arp_resolve(&l.arp, PEER_IP, T0);
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);
    arp_resolve(&l.arp, PEER_IP, T0 + 1 * MS); /* already under way */
    arp_resolve(&l.arp, OUR_IP, T0 + 1 * MS);
    arp_resolve(&l.arp, 0, T0 + 1 * MS);
    arp_resolve(&l.arp, NET_IP4_BROADCAST, T0 + 1 * MS);
    arp_resolve(&l.arp, NET_IP4(224, 0, 0, 1), T0 + 1 * MS);
    cr_assert_null(lab_next(&l));

    lab_rx(&l, T0 + 2 * MS, ARP_OP_REPLY, &mac_gw, PEER_IP, OUR_IP);
    cr_assert_null(lab_next(&l));
    struct net_mac got;
    cr_assert(arp_lookup(&l.arp, PEER_IP, &got));
    cr_assert(net_mac_eq(&got, &mac_gw));
}

Test(arp, eviction_spares_a_resolution_in_progress)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    /* A resolution with a packet waiting, then three hosts learned: the cache is full.
     * The resolution's retry is due long before any entry expires, so "nearest deadline"
     * alone would pick it. */
    lab_output(&l, PEER_IP, 1, 30, T0);
    for (unsigned i = 0; i < 3; i++) {
        struct net_mac m = host_mac(i);
        lab_rx(&l, T0 + (i + 1) * MS, ARP_OP_REQUEST, &m, NET_IP4(10, 0, 0, 10 + i), OUR_IP);
    }
    struct net_mac m = host_mac(3);
    lab_rx(&l, T0 + 4 * MS, ARP_OP_REQUEST, &m, NET_IP4(10, 0, 0, 13), OUR_IP);
    cr_assert_eq(l.arp.stats.evicted, 1);

    /* The oldest learned host went, not the pending resolution nor its packet. */
    struct net_mac got;
    cr_assert_not(arp_lookup(&l.arp, NET_IP4(10, 0, 0, 10), &got));
    cr_assert(arp_lookup(&l.arp, NET_IP4(10, 0, 0, 13), &got));
    while (lab_next(&l))
        ; /* replies and the request */
    lab_rx(&l, T0 + 5 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    lab_expect_packet(&l, &fr_mac_peer, 1, 30);
    cr_assert_eq(l.arp.stats.queue_dropped, 0);
}

Test(arp, when_every_slot_is_resolving_the_oldest_gives_way)
{
    struct lab l;
    lab_setup(&l);
    lab_start(&l);
    for (unsigned i = 0; i < LAB_ENTRIES; i++)
        arp_resolve(&l.arp, NET_IP4(10, 0, 0, 20 + i), T0 + i * MS);
    cr_assert_eq(lab_output(&l, PEER_IP, 1, 30, T0 + 10 * MS), NET_EAGAIN);
    cr_assert_eq(l.arp.stats.evicted, 1);
    for (unsigned i = 0; i < LAB_ENTRIES; i++)
        lab_expect_request(&l, &fr_mac_broadcast, NET_IP4(10, 0, 0, 20 + i));
    lab_expect_request(&l, &fr_mac_broadcast, PEER_IP);

    /* The retries that follow are for everyone but the first. */
    arp_poll(&l.arp, T0 + 1 * SEC + 3 * MS);
    for (unsigned i = 1; i < LAB_ENTRIES; i++)
        lab_expect_request(&l, &fr_mac_broadcast, NET_IP4(10, 0, 0, 20 + i));
    cr_assert_null(lab_next(&l));

    lab_rx(&l, T0 + 1 * SEC + 5 * MS, ARP_OP_REPLY, &fr_mac_peer, PEER_IP, OUR_IP);
    lab_expect_packet(&l, &fr_mac_peer, 1, 30);
}
