/*
 * test_offload.c — each layer's part in checksum offload and TSO (struct net_offload):
 * eth counts the offsets from the frame's first byte and lets a frame past the MTU
 * through only to a device that segments; arp hands the request down to a resolved
 * neighbour and, as its queue keeps none, finishes the checksum of a packet it queues;
 * ipv4 asks for the checksum at csum_at, sends a GSO payload as one packet that reserves
 * an id per segment, and sums a fragmented payload itself.
 *
 * Each layer runs alone over small recording ops of this file's own, which keep the bytes
 * handed down and a copy of the offload request (or its absence). Packets are built with
 * frames.h, checksums are verified with fr_csum over a pseudo-header assembled here, and
 * where a device's work matters it is done by harness/gso.c.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "gso.h"
#include "netstack/arp.h"
#include "netstack/eth.h"
#include "netstack/ipv4.h"

#define MS NET_NS_PER_MS
#define T0 (100 * NET_NS_PER_SEC)
#define US NET_IP4(10, 0, 0, 2)
#define PEER NET_IP4(10, 0, 0, 1)
#define ETH 14
#define IP_HDR 20
#define TCP_HDR 32 /* with the timestamps option */
#define MSS 1448

static const struct net_mac mac_us = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

/* What a layer handed down: its bytes and its offload request, if any. */
struct sent {
    uint8_t *data;
    size_t len;
    bool offloaded;
    struct net_offload off; /* valid when offloaded */
};

#define LOG_MAX 16
struct log {
    struct sent s[LOG_MAX];
    size_t n, taken;
};

static void log_add(struct log *l, const uint8_t *data, size_t len, const struct net_offload *off)
{
    cr_assert_lt(l->n, LOG_MAX);
    struct sent *s = &l->s[l->n++];
    s->data = malloc(len ? len : 1);
    cr_assert_not_null(s->data);
    memcpy(s->data, data, len);
    s->len = len;
    s->offloaded = off != NULL;
    s->off = off ? *off : (struct net_offload){0};
}

static const struct sent *log_next(struct log *l)
{
    return l->taken < l->n ? &l->s[l->taken++] : NULL;
}

static void log_free(struct log *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i].data);
}

static void expect_off(const struct sent *s, uint16_t start, uint16_t offset, uint16_t hdr_len,
                       uint16_t gso_size)
{
    cr_assert(s->offloaded, "handed down with no offload request");
    cr_assert_eq(s->off.csum_start, start, "csum_start %u, expected %u", s->off.csum_start, start);
    cr_assert_eq(s->off.csum_offset, offset, "csum_offset %u, expected %u", s->off.csum_offset,
                 offset);
    cr_assert_eq(s->off.hdr_len, hdr_len, "hdr_len %u, expected %u", s->off.hdr_len, hdr_len);
    cr_assert_eq(s->off.gso_size, gso_size, "gso_size %u, expected %u", s->off.gso_size, gso_size);
}

/* ---- Packets -------------------------------------------------------------------------- */

/* The pseudo-header's sum for a TCP segment of `len` bytes, folded, not complemented:
 * what TCP leaves in the checksum field for a device to finish. */
static uint16_t pseudo_sum(net_ip4 src, net_ip4 dst, size_t len)
{
    uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + (uint32_t)len;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

/* The TCP segment `seg` of `len` bytes from us to the peer carries a valid checksum. */
static bool tcp_sum_ok(const uint8_t *seg, size_t len)
{
    uint8_t *buf = malloc(12 + len);
    cr_assert_not_null(buf);
    net_put32(buf, US);
    net_put32(buf + 4, PEER);
    buf[8] = 0;
    buf[9] = 6;
    net_put16(buf + 10, (uint16_t)len);
    memcpy(buf + 12, seg, len);
    bool ok = fr_csum(buf, 12 + len) == 0;
    free(buf);
    return ok;
}

/* A TCP segment (timestamps option, ACK|PSH, `len` payload bytes) from us to the peer
 * into `buf`, its checksum field primed as TCP primes it for a device. */
static size_t tcp_seg(uint8_t *buf, size_t len)
{
    uint8_t opts[12];
    size_t olen = fr_tcp_opt_ts(opts, 7, 9);
    struct fr_tcp t = {.sport = 80,
                       .dport = 40000,
                       .seq = 1000,
                       .ack = 2000,
                       .flags = 0x18,
                       .window = 502,
                       .options = opts,
                       .options_len = olen};
    uint8_t *payload = malloc(len ? len : 1);
    cr_assert_not_null(payload);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 131 + (i >> 9));
    size_t n = fr_tcp_seg(buf, US, PEER, &t, payload, len);
    free(payload);
    cr_assert_eq(n, TCP_HDR + len);
    net_put16(buf + 16, pseudo_sum(US, PEER, n));
    return n;
}

/* The same segment behind an IPv4 header (id 77, DF): the packet ipv4 hands to arp. */
static size_t tcp_pkt(uint8_t *buf, size_t len)
{
    size_t n = tcp_seg(buf + IP_HDR, len);
    struct fr_ip ip = {.src = US, .dst = PEER, .proto = 6, .id = 77, .df = true};
    return fr_ipv4_pkt(buf, &ip, buf + IP_HDR, n);
}

/* ---- eth over a recording device --------------------------------------------------------- */

#define DEV_BUF 20000

struct dev {
    struct log log;
    size_t asked; /* the length of the last reservation */
    uint8_t buf[DEV_BUF];
};

static uint8_t *dev_reserve(void *ctx, size_t len)
{
    struct dev *d = ctx;
    d->asked = len;
    return len <= sizeof(d->buf) ? d->buf : NULL;
}

static void dev_commit(void *ctx, uint8_t *frame, size_t len, const struct net_offload *off)
{
    struct dev *d = ctx;
    cr_assert_eq(frame, d->buf, "committed a buffer that was not reserved");
    log_add(&d->log, frame, len, off);
}

static const struct net_dev_ops dev_ops = {.reserve = dev_reserve, .commit = dev_commit};

static bool no_deliver(void *ctx, const struct eth_repr *hdr, const uint8_t *payload, size_t len,
                       uint64_t now)
{
    return false;
}

struct eth_lab {
    struct eth eth;
    struct eth_ops ops;
    struct dev *dev;
};

static void eth_lab_start(struct eth_lab *l, const struct net_dev_caps *caps)
{
    l->dev = calloc(1, sizeof(*l->dev));
    cr_assert_not_null(l->dev);
    l->ops = (struct eth_ops){.dev = &dev_ops, .dev_ctx = l->dev, .deliver = no_deliver};
    struct eth_cfg cfg = {.mac = mac_us, .mtu = 1500};
    if (caps)
        cfg.caps = *caps;
    cr_assert_eq(eth_init(&l->eth, &cfg, &l->ops, NULL), NET_OK);
}

static void eth_lab_free(struct eth_lab *l)
{
    log_free(&l->dev->log);
    free(l->dev);
}

static const struct net_dev_caps tso_caps = {.tx_csum = true, .tso_max = ETH + 16384};

Test(offload, eth_send_counts_the_offsets_from_the_frames_first_byte)
{
    struct eth_lab l;
    eth_lab_start(&l, &tso_caps);

    /* A TSO burst: the checksum and the headers the device copies both move by 14. */
    const struct net_offload burst = {
        .csum_start = 20, .csum_offset = 16, .hdr_len = 52, .gso_size = MSS};
    uint8_t *p = eth_reserve(&l.eth, 10000);
    cr_assert_not_null(p);
    memset(p, 0x3c, 10000);
    eth_send(&l.eth, p, 10000, &fr_mac_peer, ETH_TYPE_IPV4, &burst);
    const struct sent *s = log_next(&l.dev->log);
    cr_assert_not_null(s);
    cr_assert_eq(s->len, ETH + 10000);
    expect_off(s, ETH + 20, 16, ETH + 52, MSS);
    cr_assert_eq(burst.csum_start, 20, "the caller's request was changed");
    cr_assert_eq(burst.hdr_len, 52, "the caller's request was changed");

    /* A checksum alone: hdr_len stays 0 (no headers to copy), not 14. */
    const struct net_offload sum = {.csum_start = 20, .csum_offset = 16};
    p = eth_reserve(&l.eth, 100);
    cr_assert_not_null(p);
    memset(p, 0x3c, 100);
    eth_send(&l.eth, p, 100, &fr_mac_peer, ETH_TYPE_IPV4, &sum);
    s = log_next(&l.dev->log);
    cr_assert_not_null(s);
    expect_off(s, ETH + 20, 16, 0, 0);
    cr_assert_null(log_next(&l.dev->log));
    eth_lab_free(&l);
}

Test(offload, eth_send_commits_a_frame_without_a_request_as_complete)
{
    struct eth_lab l;
    eth_lab_start(&l, &tso_caps);
    uint8_t *p = eth_reserve(&l.eth, 100);
    cr_assert_not_null(p);
    memset(p, 0x3c, 100);
    eth_send(&l.eth, p, 100, &fr_mac_peer, ETH_TYPE_IPV4, NULL);
    const struct sent *s = log_next(&l.dev->log);
    cr_assert_not_null(s);
    cr_assert_eq(s->len, ETH + 100);
    cr_assert(!s->offloaded, "no request became one");
    eth_lab_free(&l);
}

Test(offload, eth_reserve_refuses_a_payload_over_the_mtu_without_tso)
{
    struct eth_lab l;
    eth_lab_start(&l, NULL);
    cr_assert_null(eth_reserve(&l.eth, 1501));
    cr_assert_null(eth_reserve(&l.eth, 10000));
    cr_assert_not_null(eth_reserve(&l.eth, 1500));
    cr_assert_eq(l.dev->asked, ETH + 1500);
    eth_lab_free(&l);

    /* Checksum offload alone does not lift the limit either. */
    const struct net_dev_caps csum_only = {.tx_csum = true};
    eth_lab_start(&l, &csum_only);
    cr_assert_null(eth_reserve(&l.eth, 1501));
    cr_assert_not_null(eth_reserve(&l.eth, 1500));
    eth_lab_free(&l);
}

Test(offload, eth_reserve_grants_up_to_tso_max_with_tso)
{
    struct eth_lab l;
    eth_lab_start(&l, &tso_caps);
    cr_assert_not_null(eth_reserve(&l.eth, 1501));
    cr_assert_eq(l.dev->asked, ETH + 1501);
    cr_assert_not_null(eth_reserve(&l.eth, 16384), "a frame of exactly tso_max");
    cr_assert_eq(l.dev->asked, ETH + 16384);
    cr_assert_null(eth_reserve(&l.eth, 16385), "a frame one byte over tso_max");
    eth_lab_free(&l);
}

/* ---- arp over recording ops --------------------------------------------------------------- */

#define ARP_SLOT 1500

struct arp_lab {
    struct arp arp;
    struct arp_ops ops;
    struct arp_entry entries[4];
    struct arp_pending pending[2];
    uint8_t queue[2 * ARP_SLOT];
    uint8_t buf[ARP_SLOT]; /* the device's one buffer */
    struct log log;
};

static uint8_t *arp_lab_reserve(void *ctx, size_t len)
{
    struct arp_lab *l = ctx;
    return len <= sizeof(l->buf) ? l->buf : NULL;
}

static void arp_lab_send(void *ctx, uint8_t *payload, size_t len, const struct net_mac *dst,
                         uint16_t type, const struct net_offload *off)
{
    struct arp_lab *l = ctx;
    cr_assert_eq(payload, l->buf, "sent a buffer that was not reserved");
    log_add(&l->log, payload, len, off);
    memset(l->buf, 0xa5, sizeof(l->buf)); /* a layer still using it would show */
}

static struct arp_lab *arp_lab_start(void)
{
    struct arp_lab *l = calloc(1, sizeof(*l));
    cr_assert_not_null(l);
    l->ops = (struct arp_ops){.reserve = arp_lab_reserve, .send = arp_lab_send};
    struct arp_cfg cfg = {.ip = US,
                          .mac = mac_us,
                          .entries = l->entries,
                          .n_entries = 4,
                          .pending = l->pending,
                          .n_pending = 2,
                          .pending_mem = l->queue,
                          .pending_slot = ARP_SLOT};
    cr_assert_eq(arp_init(&l->arp, &cfg, &l->ops, l), NET_OK);
    return l;
}

static void arp_lab_free(struct arp_lab *l)
{
    log_free(&l->log);
    free(l);
}

/* The peer tells us, unicast, where it is. */
static void peer_replies(struct arp_lab *l, uint64_t now)
{
    uint8_t frame[64];
    fr_arp(frame, &mac_us, ARP_OP_REPLY, &fr_mac_peer, PEER, &mac_us, US);
    arp_input(&l->arp, frame + ETH, ARP_LEN, now);
}

Test(offload, arp_hands_the_request_down_unchanged_to_a_resolved_neighbour)
{
    struct arp_lab *l = arp_lab_start();
    peer_replies(l, T0);
    cr_assert_null(log_next(&l->log), "a reply needs no answer");

    uint8_t pkt[IP_HDR + TCP_HDR + 100];
    size_t len = tcp_pkt(pkt, 100);
    uint8_t *p = arp_lab_reserve(l, len);
    memcpy(p, pkt, len);
    const struct net_offload off = {.csum_start = 20, .csum_offset = 16};
    cr_assert_eq(arp_output(&l->arp, PEER, p, len, &off, T0 + 1 * MS), NET_OK);

    const struct sent *s = log_next(&l->log);
    cr_assert_not_null(s, "the packet was not sent");
    expect_off(s, 20, 16, 0, 0);
    cr_assert_eq(s->len, len);
    cr_assert_arr_eq(s->data, pkt, len, "the packet changed: the device has the sum to do");
    cr_assert_null(log_next(&l->log));
    arp_lab_free(l);
}

Test(offload, arp_finishes_the_checksum_of_a_packet_it_queues)
{
    struct arp_lab *l = arp_lab_start();
    uint8_t pkt[IP_HDR + TCP_HDR + 101]; /* odd, so the last byte pads a word */
    size_t len = tcp_pkt(pkt, 101);
    uint8_t *p = arp_lab_reserve(l, len);
    memcpy(p, pkt, len);
    const struct net_offload off = {.csum_start = 20, .csum_offset = 16};
    cr_assert_eq(arp_output(&l->arp, PEER, p, len, &off, T0), NET_EAGAIN);
    const struct sent *s = log_next(&l->log);
    cr_assert_not_null(s, "no ARP request");
    cr_assert_eq(s->len, ARP_LEN);
    cr_assert(!s->offloaded, "an ARP request with an offload request");
    cr_assert_null(log_next(&l->log));

    /* The answer comes; the queued packet leaves with nothing left for the device. */
    peer_replies(l, T0 + 1 * MS);
    s = log_next(&l->log);
    cr_assert_not_null(s, "the queued packet did not leave");
    cr_assert(!s->offloaded, "a queued packet left with an offload request");
    cr_assert_eq(s->len, len);
    cr_assert(tcp_sum_ok(s->data + IP_HDR, len - IP_HDR), "the TCP checksum was not finished");
    cr_assert_arr_eq(s->data, pkt, IP_HDR + 16, "the IP header or TCP header changed");
    cr_assert_arr_eq(s->data + IP_HDR + 18, pkt + IP_HDR + 18, len - IP_HDR - 18,
                     "the segment changed beyond its checksum");
    cr_assert_null(log_next(&l->log));
    arp_lab_free(l);
}

/* ---- ipv4 over recording ops --------------------------------------------------------------- */

#define IP_BUF 70000

struct ip_lab {
    struct ipv4 ip;
    struct ipv4_ops ops;
    struct log log;
    uint8_t buf[IP_BUF];
};

static uint8_t *ip_lab_reserve(void *ctx, size_t len)
{
    struct ip_lab *l = ctx;
    return len <= sizeof(l->buf) ? l->buf : NULL;
}

static void ip_lab_output(void *ctx, net_ip4 next_hop, uint8_t *pkt, size_t len,
                          const struct net_offload *off, uint64_t now)
{
    struct ip_lab *l = ctx;
    cr_assert_eq(pkt, l->buf, "sent a buffer that was not reserved");
    cr_assert_eq(next_hop, PEER);
    log_add(&l->log, pkt, len, off);
    memset(l->buf, 0xa5, len);
}

static bool ip_no_deliver(void *ctx, const struct ipv4_repr *repr, const uint8_t *hdr,
                          const uint8_t *payload, size_t len, uint64_t now)
{
    return false;
}

static struct ip_lab *ip_lab_start(void)
{
    struct ip_lab *l = calloc(1, sizeof(*l));
    cr_assert_not_null(l);
    l->ops = (struct ipv4_ops){
        .reserve = ip_lab_reserve, .output = ip_lab_output, .deliver = ip_no_deliver};
    struct ipv4_cfg cfg = {.addr = US, .prefix_len = 24, .mtu = 1500, .seed = 42};
    cr_assert_eq(ipv4_init(&l->ip, &cfg, &l->ops, l), NET_OK);
    return l;
}

static void ip_lab_free(struct ip_lab *l)
{
    log_free(&l->log);
    free(l);
}

/* TCP's transmission of `seg` with `tx`'s offloads, in three pieces (the middle one odd,
 * so a sum over them must carry a byte across). */
static int ip_send_seg(struct ip_lab *l, struct ipv4_tx tx, const uint8_t *seg, size_t len)
{
    tx.dst = PEER;
    tx.proto = 6;
    tx.df = tx.gso_size != 0;
    cr_assert_gt(len, TCP_HDR + 7);
    struct net_iov iov[3] = {
        {seg, TCP_HDR}, {seg + TCP_HDR, 7}, {seg + TCP_HDR + 7, len - TCP_HDR - 7}};
    return ipv4_send(&l->ip, &tx, iov, 3, T0);
}

/* `s` is one whole IPv4 packet from us to the peer of `len` payload bytes; its id. */
static uint16_t expect_whole_packet(const struct sent *s, size_t len)
{
    cr_assert_not_null(s, "nothing was sent");
    cr_assert_eq(s->len, IP_HDR + len);
    cr_assert_eq(s->data[0], 0x45);
    cr_assert_eq(net_get16(s->data + 2), IP_HDR + len, "IP total length");
    cr_assert_eq(net_get16(s->data + 6) & 0x3fff, 0, "MF or a fragment offset");
    cr_assert_eq(fr_csum(s->data, IP_HDR), 0, "IP header checksum");
    cr_assert_eq(net_get32(s->data + 16), PEER);
    return net_get16(s->data + 4);
}

Test(offload, ipv4_asks_the_device_for_the_checksum_at_csum_at)
{
    struct ip_lab *l = ip_lab_start();
    static uint8_t seg[TCP_HDR + 500];
    size_t len = tcp_seg(seg, 500);

    cr_assert_eq(ip_send_seg(l, (struct ipv4_tx){.csum_at = 16}, seg, len), NET_OK);
    const struct sent *s = log_next(&l->log);
    expect_whole_packet(s, len);
    expect_off(s, IP_HDR, 16, 0, 0);
    cr_assert_arr_eq(s->data + IP_HDR, seg, len, "the segment changed: the device sums it");

    /* Without csum_at there is nothing to ask. */
    cr_assert_eq(ip_send_seg(l, (struct ipv4_tx){0}, seg, len), NET_OK);
    s = log_next(&l->log);
    expect_whole_packet(s, len);
    cr_assert(!s->offloaded, "an offload request nobody asked for");
    cr_assert_null(log_next(&l->log));
    ip_lab_free(l);
}

Test(offload, ipv4_sends_a_gso_payload_over_the_mtu_as_one_packet)
{
    struct ip_lab *l = ip_lab_start();
    static uint8_t seg[10000];
    size_t len = tcp_seg(seg, 10000 - TCP_HDR);
    struct ipv4_tx tx = {.csum_at = 16, .gso_size = MSS, .l4_hdr_len = TCP_HDR};

    cr_assert_eq(ip_send_seg(l, tx, seg, len), NET_OK);
    const struct sent *s = log_next(&l->log);
    expect_whole_packet(s, 10000);
    expect_off(s, IP_HDR, 16, IP_HDR + TCP_HDR, MSS);
    cr_assert_arr_eq(s->data + IP_HDR, seg, len);
    cr_assert_null(log_next(&l->log), "a GSO packet was fragmented");
    cr_assert_eq(l->ip.stats.tx_fragments, 0);
    cr_assert_eq(l->ip.stats.tx_packets, 1);
    ip_lab_free(l);
}

Test(offload, ipv4_asks_no_segmentation_for_a_gso_payload_within_the_mtu)
{
    struct ip_lab *l = ip_lab_start();
    static uint8_t seg[TCP_HDR + 1000];
    size_t len = tcp_seg(seg, 1000);
    struct ipv4_tx tx = {.csum_at = 16, .gso_size = MSS, .l4_hdr_len = TCP_HDR};

    cr_assert_eq(ip_send_seg(l, tx, seg, len), NET_OK);
    const struct sent *s = log_next(&l->log);
    uint16_t id = expect_whole_packet(s, len);
    expect_off(s, IP_HDR, 16, 0, 0);
    cr_assert_eq(ip_send_seg(l, tx, seg, len), NET_OK);
    cr_assert_eq(expect_whole_packet(log_next(&l->log), len), (uint16_t)(id + 1));
    ip_lab_free(l);
}

Test(offload, ipv4_reserves_an_id_for_every_segment_of_a_gso_packet)
{
    struct ip_lab *l = ip_lab_start();
    static uint8_t seg[10000];
    size_t len = tcp_seg(seg, 10000 - TCP_HDR);
    struct ipv4_tx tx = {.csum_at = 16, .gso_size = MSS, .l4_hdr_len = TCP_HDR};
    const size_t segments = (10000 - TCP_HDR + MSS - 1) / MSS;
    cr_assert_eq(segments, 7);

    cr_assert_eq(ip_send_seg(l, tx, seg, len), NET_OK);
    uint16_t id = expect_whole_packet(log_next(&l->log), 10000);
    cr_assert_eq(ip_send_seg(l, (struct ipv4_tx){0}, seg, 100), NET_OK);
    uint16_t next = expect_whole_packet(log_next(&l->log), 100);
    cr_assert_eq(next, (uint16_t)(id + segments), "next id %u after a burst of %zu from %u", next,
                 segments, id);
    ip_lab_free(l);
}

/* The device's segments of one GSO packet, once cut, do not share an id with the packet
 * after it: what ipv4 reserved is what the device uses. */
static void count_frame(void *ctx, const uint8_t *frame, size_t len)
{
    struct log *l = ctx;
    log_add(l, frame, len, NULL);
}

Test(offload, ipv4_gso_packet_cut_by_a_device_uses_exactly_the_ids_it_reserved)
{
    struct ip_lab *l = ip_lab_start();
    static uint8_t seg[10000], frame[ETH + IP_HDR + 10000];
    size_t len = tcp_seg(seg, 10000 - TCP_HDR);
    struct ipv4_tx tx = {.csum_at = 16, .gso_size = MSS, .l4_hdr_len = TCP_HDR};

    cr_assert_eq(ip_send_seg(l, tx, seg, len), NET_OK);
    const struct sent *s = log_next(&l->log);
    uint16_t id = expect_whole_packet(s, 10000);
    /* What eth would make of it, then the device's work. */
    fr_eth(frame, &fr_mac_peer, &mac_us, ETH_TYPE_IPV4, s->data, s->len);
    struct net_offload off = s->off;
    off.csum_start = (uint16_t)(off.csum_start + ETH);
    off.hdr_len = (uint16_t)(off.hdr_len + ETH);
    struct log cut = {0};
    cr_assert_eq(gso_finish(frame, ETH + s->len, &off, count_frame, &cut), 7);
    for (size_t i = 0; i < cut.n; i++) {
        const uint8_t *ip = cut.s[i].data + ETH;
        cr_assert_eq(net_get16(ip + 4), (uint16_t)(id + i));
        cr_assert(tcp_sum_ok(ip + IP_HDR, net_get16(ip + 2) - IP_HDR), "segment %zu", i);
    }
    cr_assert_eq(ip_send_seg(l, (struct ipv4_tx){0}, seg, 100), NET_OK);
    cr_assert_eq(expect_whole_packet(log_next(&l->log), 100), (uint16_t)(id + cut.n),
                 "the next packet reuses a segment's id");
    log_free(&cut);
    ip_lab_free(l);
}

Test(offload, ipv4_sums_a_fragmented_payload_itself_into_the_first_fragment)
{
    struct ip_lab *l = ip_lab_start();
    static uint8_t seg[TCP_HDR + 2999], whole[TCP_HDR + 2999];
    size_t len = tcp_seg(seg, 2999);

    cr_assert_eq(ip_send_seg(l, (struct ipv4_tx){.csum_at = 16}, seg, len), NET_OK);
    /* 3031 bytes at MTU 1500: 1480 + 1480 + 71, none with an offload request. */
    size_t at = 0, n = 0;
    uint16_t id = 0;
    for (const struct sent *s; (s = log_next(&l->log)) != NULL; n++) {
        cr_assert(!s->offloaded, "fragment %zu asks the device for a sum it cannot do", n);
        cr_assert_eq(fr_csum(s->data, IP_HDR), 0);
        uint16_t fl = net_get16(s->data + 6), tl = net_get16(s->data + 2);
        if (n == 0)
            id = net_get16(s->data + 4);
        cr_assert_eq(net_get16(s->data + 4), id, "fragments of one datagram share an id");
        cr_assert_eq((size_t)(fl & 0x1fff) * 8, at, "fragment %zu offset", n);
        cr_assert_eq(tl, s->len);
        cr_assert_leq(at + tl - IP_HDR, len);
        memcpy(whole + at, s->data + IP_HDR, tl - IP_HDR);
        at += tl - IP_HDR;
        cr_assert_eq((fl & 0x2000) != 0, at < len, "MF on fragment %zu", n);
    }
    cr_assert_eq(n, 3);
    cr_assert_eq(at, len);
    cr_assert(tcp_sum_ok(whole, len), "the reassembled segment's checksum is wrong");
    cr_assert_arr_eq(whole, seg, 16);
    cr_assert_arr_eq(whole + 18, seg + 18, len - 18, "the segment changed beyond its checksum");
    ip_lab_free(l);
}
