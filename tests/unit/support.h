/*
 * support.h — what the node-level suites (ipv4, icmp) share: the test network's
 * addresses, clock units, a real captured ping, an independent checksum, and the two
 * opening moves of most conversations (bring the node up, let the peer introduce itself).
 * Everything is static so each suite gets its own copy; this is a test header, not an API.
 */
#ifndef TESTS_UNIT_SUPPORT_H
#define TESTS_UNIT_SUPPORT_H

#include <criterion/criterion.h>
#include <stdint.h>

#include "frames.h"
#include "netstack/arp.h"
#include "netstack/eth.h"
#include "testbed.h"

#define US NET_IP4(10, 0, 0, 2)
#define PEER NET_IP4(10, 0, 0, 1) /* also the gateway of testbed_default_cfg() */
#define OTHER NET_IP4(10, 0, 0, 3)
#define FAR NET_IP4(192, 0, 2, 7) /* off-link (TEST-NET-1), reached via the gateway */
#define T0 (1000 * NET_NS_PER_SEC)
#define MS NET_NS_PER_MS
#define SEC NET_NS_PER_SEC
#define FRAG 1480 /* IPv4 payload of a full fragment at MTU 1500 */

static const struct net_mac mac_us = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

/*
 * A real exchange, captured with tcpdump: Linux iputils `ping -c1 -I 10.0.0.1 10.0.0.2`
 * and the Linux kernel's answer, as IPv4 packets. The request is IP id 18097 with DF,
 * ICMP echo request id 5442 seq 1 with 56 data bytes (a 16-byte struct timeval, then
 * 0x10..0x37). ICMP checksum by hand: the 32 words without the checksum sum to 0x3366b,
 * folded 0x366e, complemented 0xc991; the reply changes only the type (8 -> 0), so its
 * checksum is 0xc991 + 0x0800 = 0xd191.
 */
static const uint8_t linux_ping[84] = {
    0x45, 0x00, 0x00, 0x54, 0x46, 0xb1, 0x40, 0x00, 0x40, 0x01, 0xdf, 0xf5, 0x0a, 0x00,
    0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, /* IPv4 header */
    0x08, 0x00, 0xc9, 0x91, 0x15, 0x42, 0x00, 0x01, /* ICMP echo request */
    0x1c, 0x29, 0x05, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x34, 0xc4, 0x04, 0x00, 0x00, 0x00,
    0x00, 0x00, /* struct timeval */
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
    0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
    0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
/* RFC 1071 the slow way, independent of lib/netstack/checksum.c. */
static inline uint16_t ref_csum(const uint8_t *p, size_t len)
{
    return fr_csum(p, len);
}

static inline void start(struct testbed *tb)
{
    struct node_cfg cfg = testbed_default_cfg();
    cr_assert_eq(testbed_init(tb, &cfg, T0), NET_OK);
}

/* The peer asks for our address; the node learns its MAC from the request and answers. */
static inline void learn_peer(struct testbed *tb, uint64_t at)
{
    uint8_t buf[FAKE_LINK_FRAME_MAX];
    size_t n = fr_arp(buf, &fr_mac_broadcast, ARP_OP_REQUEST, &fr_mac_peer, PEER, &fr_mac_zero,
                      US);
    tb_send(tb, buf, n, at);
    const struct fake_frame *f = tb_next(tb);
    cr_assert_not_null(f, "no ARP reply to the peer");
    cr_assert_eq(net_get16(f->data + ETH_OFF_TYPE), ETH_TYPE_ARP);
    cr_assert_eq(net_get16(f->data + ETH_HDR_LEN + ARP_OFF_OPER), ARP_OP_REPLY);
}

#endif
