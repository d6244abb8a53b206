/*
 * test_eth.c — Ethernet II framing: the codec, what eth_input accepts and what it drops
 * (each under its own counter), and how output is framed and padded.
 *
 * Input tests go through a whole node on the testbed and use an ARP request for our
 * address as the probe: a frame eth accepts gets an ARP reply, a frame it drops gets
 * nothing, and the drop shows in its own counter with rx_frames untouched. Where the same
 * frame can be repaired, the test ends by showing it is then answered, so the silence
 * came from the damage and not from a broken testbed. Output, init and the deliver
 * contract are tested on the layer alone over the fake link.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "fake_link.h"
#include "frames.h"
#include "netstack/eth.h"
#include "testbed.h"

#define MS NET_NS_PER_MS
#define T0 (1000 * MS)
#define OUR_IP NET_IP4(10, 0, 0, 2)
#define PEER_IP NET_IP4(10, 0, 0, 1)

/*
 * A Linux 6.18 host (3c:52:82:5a:1b:7e, 192.168.1.23) resolving 192.168.1.1, captured with
 * tcpdump on its veth before padding: 42 bytes, "Request who-has 192.168.1.1 tell
 * 192.168.1.23".
 */
/* clang-format off: one wire field per line */
static const uint8_t linux_arp_request[42] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,                         /* dst: broadcast */
    0x3c, 0x52, 0x82, 0x5a, 0x1b, 0x7e,                         /* src */
    0x08, 0x06,                                                 /* EtherType: ARP */
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,             /* Ethernet/IPv4, 6/4, request */
    0x3c, 0x52, 0x82, 0x5a, 0x1b, 0x7e, 0xc0, 0xa8, 0x01, 0x17, /* sha, spa 192.168.1.23 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01, /* tha, tpa 192.168.1.1 */
};
/* clang-format on */
static const struct net_mac linux_mac = {{0x3c, 0x52, 0x82, 0x5a, 0x1b, 0x7e}};

static const struct net_mac mac_ours = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

static void tb_up(struct testbed *tb, const struct node_cfg *cfg)
{
    cr_assert_eq(testbed_init(tb, cfg, T0), NET_OK);
    cr_assert(net_mac_eq(&tb->cfg.mac, &mac_ours), "tests assume the default MAC");
}

/* An ARP request from the peer for our address, in an Ethernet frame to `eth_dst`. */
static size_t who_has_us(uint8_t *buf, const struct net_mac *eth_dst)
{
    return fr_arp(buf, eth_dst, 1, &fr_mac_peer, PEER_IP, &fr_mac_zero, OUR_IP);
}

/* The node answered the peer's request: an ARP reply to the peer's MAC. */
static void expect_arp_reply(struct testbed *tb, uint64_t at)
{
    const struct fake_frame *f = tb_next(tb);
    cr_assert_not_null(f, "expected an ARP reply");
    cr_assert_eq(f->ts, at);
    cr_assert_arr_eq(f->data, fr_mac_peer.b, 6);
    cr_assert_eq(net_get16(f->data + 12), 0x0806);
    cr_assert_eq(net_get16(f->data + 14 + 6), 2, "ARP opcode should be reply");
    cr_assert_null(tb_next(tb), "one reply only");
}

/* ---- Codec ---------------------------------------------------------------------------- */

Test(eth, parses_a_linux_arp_request_header)
{
    struct eth_repr r;
    cr_assert_eq(eth_parse(linux_arp_request, sizeof(linux_arp_request), &r), ETH_HDR_LEN);
    cr_assert(net_mac_is_broadcast(&r.dst));
    cr_assert(net_mac_eq(&r.src, &linux_mac));
    cr_assert_eq(r.type, ETH_TYPE_ARP);
}

Test(eth, emits_the_linux_arp_request_header)
{
    struct eth_repr r = {.dst = fr_mac_broadcast, .src = linux_mac, .type = ETH_TYPE_ARP};
    uint8_t buf[ETH_HDR_LEN + 2];
    memset(buf, 0xa5, sizeof(buf));
    cr_assert_eq(eth_emit(&r, buf, ETH_HDR_LEN), ETH_HDR_LEN);
    cr_assert_arr_eq(buf, linux_arp_request, ETH_HDR_LEN);
    cr_assert_eq(buf[ETH_HDR_LEN], 0xa5, "wrote past the header");
}

Test(eth, round_trips_a_header)
{
    /* Addresses whose bytes all differ, and a type whose halves differ, so a swap shows. */
    struct eth_repr in = {.dst = {{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}},
                          .src = {{0x0a, 0x66, 0x77, 0x88, 0x99, 0xaa}},
                          .type = 0x88cc};
    uint8_t buf[ETH_HDR_LEN];
    struct eth_repr out;
    cr_assert_eq(eth_emit(&in, buf, sizeof(buf)), ETH_HDR_LEN);
    cr_assert_eq(eth_parse(buf, sizeof(buf), &out), ETH_HDR_LEN);
    cr_assert(net_mac_eq(&out.dst, &in.dst));
    cr_assert(net_mac_eq(&out.src, &in.src));
    cr_assert_eq(out.type, in.type);

    uint8_t again[ETH_HDR_LEN];
    cr_assert_eq(eth_parse(linux_arp_request, sizeof(linux_arp_request), &out), ETH_HDR_LEN);
    cr_assert_eq(eth_emit(&out, again, sizeof(again)), ETH_HDR_LEN);
    cr_assert_arr_eq(again, linux_arp_request, ETH_HDR_LEN);
}

Test(eth, rejects_a_truncated_header_and_a_short_buffer)
{
    struct eth_repr r;
    for (size_t len = 0; len < ETH_HDR_LEN; len++)
        cr_assert_eq(eth_parse(linux_arp_request, len, &r), NET_EMALFORMED, "len %zu", len);

    uint8_t buf[ETH_HDR_LEN];
    memset(buf, 0xa5, sizeof(buf));
    struct eth_repr w = {.dst = fr_mac_broadcast, .src = linux_mac, .type = ETH_TYPE_ARP};
    cr_assert_eq(eth_emit(&w, buf, ETH_HDR_LEN - 1), NET_EMSGSIZE);
    for (size_t i = 0; i < sizeof(buf); i++)
        cr_assert_eq(buf[i], 0xa5, "a refused emit wrote byte %zu", i);
}

/* ---- Input through a node -------------------------------------------------------------- */

Test(eth, accepts_frames_to_our_mac)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = who_has_us(frame, &mac_ours);

    tb_send(&tb, frame, len, T0 + 1 * MS);
    expect_arp_reply(&tb, T0 + 1 * MS);
    cr_assert_eq(tb.node->eth.stats.rx_frames, 1);
    testbed_free(&tb);
}

Test(eth, accepts_broadcast_frames)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = who_has_us(frame, &fr_mac_broadcast);

    tb_send(&tb, frame, len, T0 + 1 * MS);
    expect_arp_reply(&tb, T0 + 1 * MS);
    cr_assert_eq(tb.node->eth.stats.rx_frames, 1);
    testbed_free(&tb);
}

Test(eth, drops_unicast_to_another_mac)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    /* One bit away from ours, so a partial comparison would accept it. */
    const struct net_mac near = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x57}};
    const struct net_mac other = fr_mac_other;

    size_t len = who_has_us(frame, &near);
    tb_send(&tb, frame, len, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    len = who_has_us(frame, &other);
    tb_send(&tb, frame, len, T0 + 2 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.rx_not_for_us, 2);
    cr_assert_eq(tb.node->eth.stats.rx_frames, 0);
    cr_assert_eq(tb.node->arp.stats.rx_packets, 0, "ARP must not have seen it");

    len = who_has_us(frame, &mac_ours);
    tb_send(&tb, frame, len, T0 + 3 * MS);
    expect_arp_reply(&tb, T0 + 3 * MS);
    testbed_free(&tb);
}

Test(eth, drops_multicast_we_never_joined)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    const struct net_mac groups[] = {
        {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}, /* IPv4 all-hosts */
        {{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}}, /* IPv6 all-nodes */
        {{0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}}, /* spanning tree */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}}, /* broadcast but for one bit */
    };

    for (size_t i = 0; i < 4; i++) {
        size_t len = who_has_us(frame, &groups[i]);
        tb_send(&tb, frame, len, T0 + (i + 1) * MS);
        cr_assert_null(tb_next(&tb), "group %zu was answered", i);
    }
    cr_assert_eq(tb.node->eth.stats.rx_multicast, 4);
    cr_assert_eq(tb.node->eth.stats.rx_frames, 0);
    testbed_free(&tb);
}

Test(eth, drops_runts)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = who_has_us(frame, &fr_mac_broadcast);

    tb_send(&tb, frame, 0, T0 + 1 * MS);
    tb_send(&tb, frame, 1, T0 + 2 * MS);
    tb_send(&tb, frame, ETH_HDR_LEN - 1, T0 + 3 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.rx_runt, 3);

    /* A whole header with nothing behind it is not a runt: ARP sees it and finds it short. */
    tb_send(&tb, frame, ETH_HDR_LEN, T0 + 4 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.rx_runt, 3);
    cr_assert_eq(tb.node->arp.stats.rx_truncated, 1);

    tb_send(&tb, frame, len, T0 + 5 * MS);
    expect_arp_reply(&tb, T0 + 5 * MS);
    testbed_free(&tb);
}

Test(eth, drops_oversize_but_accepts_exactly_mtu_plus_header)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    memset(frame, 0, sizeof(frame));
    who_has_us(frame, &fr_mac_broadcast);

    tb_send(&tb, frame, 1500 + ETH_HDR_LEN + 1, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.rx_oversize, 1);

    tb_send(&tb, frame, 1500 + ETH_HDR_LEN, T0 + 2 * MS);
    expect_arp_reply(&tb, T0 + 2 * MS);
    cr_assert_eq(tb.node->eth.stats.rx_oversize, 1);
    testbed_free(&tb);
}

Test(eth, oversize_limit_follows_the_configured_mtu)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    cfg.mtu = 576;
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    memset(frame, 0, sizeof(frame));
    who_has_us(frame, &fr_mac_broadcast);

    tb_send(&tb, frame, 576 + ETH_HDR_LEN + 1, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.rx_oversize, 1);

    tb_send(&tb, frame, 576 + ETH_HDR_LEN, T0 + 2 * MS);
    expect_arp_reply(&tb, T0 + 2 * MS);
    testbed_free(&tb);
}

Test(eth, drops_group_or_own_source_address)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    const struct net_mac bad[] = {
        {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}, /* multicast */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, /* broadcast */
        {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}}, /* ours: a loop or a spoof */
    };

    size_t len = who_has_us(frame, &fr_mac_broadcast);
    for (size_t i = 0; i < 3; i++) {
        /* Only the Ethernet source changes; the ARP body still names the peer. */
        memcpy(frame + ETH_OFF_SRC, bad[i].b, 6);
        tb_send(&tb, frame, len, T0 + (i + 1) * MS);
        cr_assert_null(tb_next(&tb), "source %zu was accepted", i);
    }
    cr_assert_eq(tb.node->eth.stats.rx_bad_src, 3);
    cr_assert_eq(tb.node->eth.stats.rx_frames, 0);

    memcpy(frame + ETH_OFF_SRC, fr_mac_peer.b, 6);
    tb_send(&tb, frame, len, T0 + 4 * MS);
    expect_arp_reply(&tb, T0 + 4 * MS);
    testbed_free(&tb);
}

/* Turn an untagged frame into one carrying an 802.1Q/802.1ad tag of `tpid`, VID 1. */
static size_t add_tag(uint8_t *frame, size_t len, uint16_t tpid)
{
    memmove(frame + 16, frame + 12, len - 12);
    net_put16(frame + 12, tpid);
    net_put16(frame + 14, 0x0001);
    return len + 4;
}

Test(eth, drops_vlan_tagged_frames)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];

    /* The tagged frames carry a valid ARP request behind the tag: skipping the tag and
     * answering would put us on a VLAN we were never configured for. */
    size_t len = add_tag(frame, who_has_us(frame, &fr_mac_broadcast), ETH_TYPE_VLAN);
    tb_send(&tb, frame, len, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    len = add_tag(frame, who_has_us(frame, &fr_mac_broadcast), ETH_TYPE_QINQ);
    tb_send(&tb, frame, len, T0 + 2 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.rx_vlan, 2);
    cr_assert_eq(tb.node->eth.stats.rx_frames, 0);
    testbed_free(&tb);
}

Test(eth, drops_8023_length_frames_as_llc)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = who_has_us(frame, &fr_mac_broadcast);

    net_put16(frame + ETH_OFF_TYPE, 28); /* an honest 802.3 length for this payload */
    tb_send(&tb, frame, len, T0 + 1 * MS);
    net_put16(frame + ETH_OFF_TYPE, 0x05ff); /* the last value that is not an EtherType */
    tb_send(&tb, frame, len, T0 + 2 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.rx_llc, 2);

    /* 0x0600 is the first EtherType (XNS): not LLC, just nobody's. */
    net_put16(frame + ETH_OFF_TYPE, 0x0600);
    tb_send(&tb, frame, len, T0 + 3 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.rx_llc, 2);
    cr_assert_eq(tb.node->eth.stats.rx_unknown_type, 1);
    testbed_free(&tb);
}

Test(eth, counts_ethertypes_nobody_handles)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    uint8_t payload[40] = {0x60}; /* the start of an IPv6 header */
    size_t len = fr_eth(frame, &mac_ours, &fr_mac_peer, ETH_TYPE_IPV6, payload, sizeof(payload));

    tb_send(&tb, frame, len, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.rx_unknown_type, 1);
    cr_assert_eq(tb.node->eth.stats.rx_frames, 0);
    testbed_free(&tb);
}

/* ---- Output -------------------------------------------------------------------------- */

Test(eth, pads_short_frames_with_zeros)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = who_has_us(frame, &fr_mac_broadcast);
    /* Dirty the device buffer so padding has to be written rather than inherited. */
    memset(tb.link.slot, 0xa5, sizeof(tb.link.slot));

    tb_send(&tb, frame, len, T0 + 1 * MS);
    const struct fake_frame *f = tb_next(&tb);
    cr_assert_not_null(f);
    cr_assert_eq(f->len, ETH_MIN_FRAME);
    for (size_t i = ETH_HDR_LEN + ARP_LEN; i < ETH_MIN_FRAME; i++)
        cr_assert_eq(f->data[i], 0, "pad byte %zu is %#x", i, f->data[i]);
    cr_assert_arr_eq(f->data + ETH_OFF_SRC, mac_ours.b, 6);
    testbed_free(&tb);
}

Test(eth, reserve_fails_and_counts_when_device_is_full)
{
    struct testbed tb;
    struct node_cfg cfg = testbed_default_cfg();
    tb_up(&tb, &cfg);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    size_t len = who_has_us(frame, &fr_mac_broadcast);

    tb.link.full = true;
    cr_assert_null(eth_reserve(&tb.node->eth, 28));
    cr_assert_eq(tb.node->eth.stats.tx_no_buffer, 1);

    /* The node's reply path meets the same full device and sends nothing. */
    tb_send(&tb, frame, len, T0 + 1 * MS);
    cr_assert_null(tb_next(&tb));
    cr_assert_eq(tb.node->eth.stats.tx_no_buffer, 2);
    cr_assert_eq(tb.node->arp.stats.tx_no_buffer, 1);
    cr_assert_eq(tb.node->eth.stats.tx_frames, 0);

    tb.link.full = false;
    tb_send(&tb, frame, len, T0 + 2 * MS);
    expect_arp_reply(&tb, T0 + 2 * MS);
    cr_assert_eq(tb.node->eth.stats.tx_frames, 1);
    testbed_free(&tb);
}

/* ---- The layer alone ------------------------------------------------------------------- */

struct upper {
    int calls;
    bool accept;
    struct eth_repr hdr;
    const uint8_t *payload;
    size_t len;
    uint64_t now;
};

static bool record(void *ctx, const struct eth_repr *hdr, const uint8_t *payload, size_t len,
                   uint64_t now)
{
    struct upper *u = ctx;
    u->calls++;
    u->hdr = *hdr;
    u->payload = payload;
    u->len = len;
    u->now = now;
    return u->accept;
}

struct lone {
    uint64_t clock;
    struct fake_link link;
    struct eth_ops ops;
    struct eth eth;
    struct upper up;
};

static int lone_init(struct lone *l, const struct net_mac *mac, uint16_t mtu)
{
    memset(l, 0, sizeof(*l));
    l->clock = T0;
    fake_link_init(&l->link, &l->clock);
    l->ops = (struct eth_ops){.dev = &fake_link_ops, .dev_ctx = &l->link, .deliver = record};
    l->up.accept = true;
    struct eth_cfg cfg = {.mac = *mac, .mtu = mtu};
    return eth_init(&l->eth, &cfg, &l->ops, &l->up);
}

Test(eth, init_rejects_group_or_zero_mac)
{
    struct lone l;
    const struct net_mac bad[] = {
        {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}},
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
        {{0x03, 0x00, 0x00, 0x00, 0x00, 0x00}}, /* locally administered, but a group */
        {{0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    };
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(lone_init(&l, &bad[i], 1500), NET_EINVAL, "mac %zu", i);
        fake_link_free(&l.link);
    }
    cr_assert_eq(lone_init(&l, &mac_ours, 1500), NET_OK);
    fake_link_free(&l.link);
}

Test(eth, init_rejects_mtu_below_576)
{
    struct lone l;
    cr_assert_eq(lone_init(&l, &mac_ours, 575), NET_EINVAL);
    fake_link_free(&l.link);
    cr_assert_eq(lone_init(&l, &mac_ours, 576), NET_OK);
    cr_assert_eq(eth_mtu(&l.eth), 576);
    fake_link_free(&l.link);
    cr_assert_eq(lone_init(&l, &mac_ours, 0), NET_OK);
    cr_assert_eq(eth_mtu(&l.eth), ETH_DEFAULT_MTU, "0 means the default");
    fake_link_free(&l.link);
}

Test(eth, init_rejects_missing_ops)
{
    struct eth eth;
    struct eth_cfg cfg = {.mac = mac_ours};
    struct fake_link link;
    fake_link_init(&link, NULL);
    struct eth_ops no_dev = {.deliver = record};
    struct eth_ops no_deliver = {.dev = &fake_link_ops, .dev_ctx = &link};
    cr_assert_eq(eth_init(&eth, NULL, &no_dev, NULL), NET_EINVAL);
    cr_assert_eq(eth_init(&eth, &cfg, NULL, NULL), NET_EINVAL);
    cr_assert_eq(eth_init(&eth, &cfg, &no_dev, NULL), NET_EINVAL);
    cr_assert_eq(eth_init(&eth, &cfg, &no_deliver, NULL), NET_EINVAL);
    fake_link_free(&link);
}

Test(eth, delivers_header_and_payload_in_place)
{
    struct lone l;
    cr_assert_eq(lone_init(&l, &mac_ours, 1500), NET_OK);
    uint8_t frame[FAKE_LINK_FRAME_MAX];
    uint8_t payload[46];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)i;
    size_t len = fr_eth(frame, &mac_ours, &fr_mac_peer, ETH_TYPE_IPV4, payload, sizeof(payload));

    eth_input(&l.eth, frame, len, T0 + 7 * MS);
    cr_assert_eq(l.up.calls, 1);
    cr_assert(net_mac_eq(&l.up.hdr.dst, &mac_ours));
    cr_assert(net_mac_eq(&l.up.hdr.src, &fr_mac_peer));
    cr_assert_eq(l.up.hdr.type, ETH_TYPE_IPV4);
    /* Borrowed, not copied: the payload is the frame's own bytes, padding and all. */
    cr_assert_eq(l.up.payload, frame + ETH_HDR_LEN);
    cr_assert_eq(l.up.len, sizeof(payload));
    cr_assert_eq(l.up.now, T0 + 7 * MS);
    cr_assert_eq(l.eth.stats.rx_frames, 1);

    /* When the layer above refuses the type, eth counts it and not as received. */
    l.up.accept = false;
    eth_input(&l.eth, frame, len, T0 + 8 * MS);
    cr_assert_eq(l.up.calls, 2);
    cr_assert_eq(l.eth.stats.rx_frames, 1);
    cr_assert_eq(l.eth.stats.rx_unknown_type, 1);
    fake_link_free(&l.link);
}

Test(eth, frames_output_with_our_source_and_pads_only_short_ones)
{
    struct lone l;
    cr_assert_eq(lone_init(&l, &mac_ours, 1500), NET_OK);
    const struct net_mac dst = {{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};

    /* Long enough already: sent at its own length, payload untouched. */
    uint8_t *p = eth_reserve(&l.eth, 100);
    cr_assert_not_null(p);
    for (size_t i = 0; i < 100; i++)
        p[i] = (uint8_t)(i + 1);
    eth_send(&l.eth, p, 100, &dst, ETH_TYPE_IPV4, NULL);
    const struct fake_frame *f = fake_link_next(&l.link);
    cr_assert_not_null(f);
    cr_assert_eq(f->len, ETH_HDR_LEN + 100);
    cr_assert_arr_eq(f->data + ETH_OFF_DST, dst.b, 6);
    cr_assert_arr_eq(f->data + ETH_OFF_SRC, mac_ours.b, 6);
    cr_assert_eq(net_get16(f->data + ETH_OFF_TYPE), ETH_TYPE_IPV4);
    for (size_t i = 0; i < 100; i++)
        cr_assert_eq(f->data[ETH_HDR_LEN + i], (uint8_t)(i + 1));

    /* One byte short of the minimum: exactly one zero byte of padding. */
    p = eth_reserve(&l.eth, ETH_MIN_FRAME - ETH_HDR_LEN - 1);
    cr_assert_not_null(p);
    memset(p, 0x77, ETH_MIN_FRAME - ETH_HDR_LEN - 1);
    eth_send(&l.eth, p, ETH_MIN_FRAME - ETH_HDR_LEN - 1, &dst, ETH_TYPE_ARP, NULL);
    f = fake_link_next(&l.link);
    cr_assert_not_null(f);
    cr_assert_eq(f->len, ETH_MIN_FRAME);
    cr_assert_eq(f->data[ETH_MIN_FRAME - 2], 0x77);
    cr_assert_eq(f->data[ETH_MIN_FRAME - 1], 0);

    /* Empty payload: a header and 46 zero bytes. */
    p = eth_reserve(&l.eth, 0);
    cr_assert_not_null(p);
    eth_send(&l.eth, p, 0, &dst, ETH_TYPE_ARP, NULL);
    f = fake_link_next(&l.link);
    cr_assert_not_null(f);
    cr_assert_eq(f->len, ETH_MIN_FRAME);
    for (size_t i = ETH_HDR_LEN; i < ETH_MIN_FRAME; i++)
        cr_assert_eq(f->data[i], 0);
    cr_assert_eq(l.eth.stats.tx_frames, 3);
    cr_assert_null(fake_link_next(&l.link));
    fake_link_free(&l.link);
}

Test(eth, reserve_refuses_more_than_the_mtu)
{
    struct lone l;
    cr_assert_eq(lone_init(&l, &mac_ours, 576), NET_OK);
    cr_assert_null(eth_reserve(&l.eth, 577));
    cr_assert_not_null(eth_reserve(&l.eth, 576));
    fake_link_free(&l.link);
}
